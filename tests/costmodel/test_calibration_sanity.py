"""A matmul-by-rows calibration measured while other work held the cores is not believed."""

from __future__ import annotations

import json
from pathlib import Path

from catalog import hardware
from catalog.costmodel import machine

# measured by `catalog recommend`'s first use on a 2-core VM while two benchmark processes ran: every size took
# 20-30 ms; the peak (1536^2 matmul) came out at 82 GFLOP/s
CONTENDED = {"float32": [[1, 0.264], [4, 0.351], [16, 1.68], [64, 4.49], [256, 16.8]]}
QUIET = {"float32": [[1, 11.9], [4, 12.2], [16, 31.9], [64, 67.5], [256, 104.1]]}


def test_a_contended_curve_is_dropped_with_a_note() -> None:
    curves, notes = machine._rows_curves(CONTENDED, {"float32": 82.3})
    assert curves == {}
    assert len(notes) == 1 and "20% of the 82 GFLOP/s peak" in notes[0] and "--calibrate" in notes[0]


def test_a_quiet_curve_is_kept() -> None:
    curves, notes = machine._rows_curves(QUIET, {"float32": 124.0})
    assert notes == [] and [rows for rows, _ in curves["float32"]] == [1.0, 4.0, 16.0, 64.0, 256.0]
    assert curves["float32"][-1] == (256.0, 104.1)


def test_more_rows_never_take_less_time() -> None:
    # a 1-row call measured slower than the 4-row call (a descheduled thread) is raised to the 4-row call's time
    curves, _ = machine._rows_curves({"float32": [[1, 0.5], [4, 20.0], [256, 100.0]]}, {"float32": 120.0})
    assert curves["float32"][0] == (1.0, 5.0)
    rates = [rate for _, rate in curves["float32"]]
    assert rates == sorted(rates) and max(rates) <= 120.0


def test_gpus_keep_small_matmuls_far_below_their_peak() -> None:
    curves, notes = machine._rows_curves({"bfloat16": [[1, 50.0], [256, 40_000.0]]}, {"bfloat16": 700_000.0}, "cuda")
    assert notes == [] and curves["bfloat16"][-1] == (256.0, 40_000.0)


def test_the_profile_says_why_it_prices_matmuls_at_the_peak(isolated_environment: Path) -> None:
    machine_id = hardware.fingerprint()["machine_id"]
    threads = hardware.default_threads()
    entry = {"gflops": {"float32": 82.3}, "bandwidth_gbs": 18.5, "matmul_rows": CONTENDED, "library": "numpy"}
    (isolated_environment / hardware.CALIBRATION_FILE).write_text(
        json.dumps({machine_id: {f"cpu/threads={threads}": entry}})
    )
    profile = machine.profile("cpu")
    assert profile.measured and profile.rows_curve == {}
    assert profile.peak_at("float32", 16) == 82.3
    assert any("matmul-by-rows calibration not used" in note for note in profile.notes)
