"""The harness against a bare timing loop, on bert-base shapes (random weights, seq 128; batch 1 and 8; float32
and bfloat16). Prints, per shape and dtype: the harness p50 (from `catalog bench run`, a fresh process per model)
next to a bare `torch.inference_mode()` loop's p50 measured in this same run (tests/perf/bare_loop.py, also in a
fresh process of its own; goal: within 2%), the wall time from command start to the result at the ±2% interval
(goal: under 5 s for batch 1), and achieved GFLOP/s against the calibrated matmul peak (`catalog hardware
--calibrate`).

This VM's speed drifts by 6-12% over tens of seconds (and other processes come and go), so one harness run next to
one bare loop compares two moments more than two loops. The comparison interleaves them: bare, harness, bare,
harness, ..., bare; each harness round is paired with the mean of the bare loops right before and after it (which
cancels a linear drift), every round and its paired difference is printed, and the summary is the median over
rounds. The bare loop times the same model (the harness's own random fill), the same inputs (the harness's own
input generator), with torch's default threads in both, as an engineer would write it by hand.

Figures are printed, not asserted (wall-clock limits make flaky tests). Run: pytest tests/perf -s -q
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bench.helpers import require
from tests.conftest import require_shared

SHAPES = [(1, 128), (8, 128)]
DTYPES = ["float32", "bfloat16"]
ROUNDS = {1: 3, 8: 1}  # harness runs per shape; one more bare loop than that brackets them (CI time: 30 min for all)


def _catalog() -> list[str]:
    script = Path(sys.executable).with_name("catalog")
    return [str(script)] if script.exists() else [shutil.which("catalog") or sys.executable, "-m", "catalog"]


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class BareLoop:
    """The bare loop (tests/perf/bare_loop.py) in a fresh process of its own, kept for the module: one model per
    dtype, built once and reused by every round."""

    def __init__(self, config_path: Path) -> None:
        repo = Path(__file__).resolve().parents[2]
        env = dict(os.environ) | {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
        }
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("bare_loop.py")), str(config_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=repo,
        )  # fmt: skip
        self.threads = int(self._read().split()[1])

    def _read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare loop process exited ({self.process.wait()})")
        return line.strip()

    def p50(self, batch: int, seq: int, dtype_name: str) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{batch} {seq} {dtype_name}\n")
        self.process.stdin.flush()
        return float(self._read())

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def _harness(command: list[str], env: dict[str, str]) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    wall_s = time.perf_counter() - started
    (row,) = json.loads(out)
    assert row["status"] == "ok", row["error"]
    return row, wall_s


def _percent(a: float, b: float) -> float:
    return 100 * (a - b) / b


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One data directory for the module, with this machine's matmul peak measured once."""
    require("torch")
    require("transformers")
    config_path = require_shared("hub/configs/google-bert__bert-base-uncased.json")
    env = dict(os.environ) | {"CATALOG_DATA_DIR": str(tmp_path_factory.mktemp("bench-perf")), "COLUMNS": "200"}
    load_before = _load_average()
    started = time.perf_counter()
    subprocess.run(_catalog() + ["hardware", "--calibrate", "--format", "json"], env=env, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    calibration_s = time.perf_counter() - started
    peaks = json.loads(subprocess.run(_catalog() + ["hardware", "--format", "json"], env=env, check=True,
                                      capture_output=True, text=True).stdout)["calibration"]  # fmt: skip
    print(
        f"\n[perf] calibration ({calibration_s:.1f} s, load average before {load_before}): "
        + json.dumps({k: v["gflops"] for k, v in peaks.items()}),
        flush=True,
    )
    bare_loop = BareLoop(config_path)
    try:
        yield {"env": env, "config_path": config_path, "bare_loop": bare_loop}
    finally:
        bare_loop.close()


@pytest.mark.perf
@pytest.mark.parametrize("batch,seq", SHAPES, ids=[f"b{b}" for b, _ in SHAPES])
@pytest.mark.parametrize("dtype", DTYPES)
def test_harness_against_a_bare_loop(
    calibrated: dict[str, Any], dtype: str, batch: int, seq: int, capsys: pytest.CaptureFixture[str]
) -> None:

    env, config_path, bare_loop = calibrated["env"], calibrated["config_path"], calibrated["bare_loop"]

    def say(line: str) -> None:
        with capsys.disabled():
            print(line, flush=True)

    load_before = _load_average()
    command = _catalog() + [
        "bench", "run", "--model", str(config_path), "--no-weights", "--task", "feature-extraction",
        "--batch-sizes", str(batch), "--seq-lens", str(seq), "--dtype", dtype, "--budget-s", "30", "--format", "json",
    ]  # fmt: skip
    label = f"bert-base b{batch} s{seq} {dtype:8s}"
    bare = [bare_loop.p50(batch, seq, dtype)]
    harness: list[float] = []
    walls: list[float] = []
    paired: list[float] = []
    row: dict[str, Any] = {}
    for round_index in range(ROUNDS[batch]):
        row, wall_s = _harness(command, env)
        bare.append(bare_loop.p50(batch, seq, dtype))
        p50 = row["latency_ms"]["p50"]
        harness.append(p50)
        walls.append(wall_s)
        paired.append(_percent(p50, (bare[-2] + bare[-1]) / 2))
        say(
            f"[perf] {label} round {round_index + 1}: bare {bare[-2]:7.2f} | harness {p50:7.2f} ms "
            f"({row['iterations']} it, CoV {row['latency_ms']['cov']:.1%}, converged {row['converged']}) | "
            f"bare {bare[-1]:7.2f} | paired diff {paired[-1]:+5.1f}% | wall to result {wall_s:5.2f} s | "
            f"load {row['load_time_s']:.2f} s | loadavg {_load_average()}"
        )
    software = json.loads(subprocess.run(_catalog() + ["bench", "show", str(row["run_id"]), "--format", "json"],
                                         env=env, check=True, capture_output=True, text=True).stdout)["software"]  # fmt: skip
    harness_p50, bare_p50 = statistics.median(harness), statistics.median(bare)
    peak = f" = {row['peak_fraction']:.0%} of peak" if row.get("peak_fraction") else ""
    say(
        f"[perf] {label} SUMMARY over {len(harness)} rounds: harness p50 {harness_p50:8.2f} ms | bare loop p50 "
        f"{bare_p50:8.2f} ms (bare loops spread {_percent(max(bare), min(bare)):.1f}%) | diff of medians "
        f"{_percent(harness_p50, bare_p50):+5.1f}%, median paired diff {statistics.median(paired):+5.1f}% "
        f"[{min(paired):+.1f}%, {max(paired):+.1f}%] (goal ±2%) | wall to result median "
        f"{statistics.median(walls):5.2f} s, min {min(walls):5.2f} s{' (goal < 5 s)' if batch == 1 else ''} | "
        f"{row['achieved_gflops']:.0f} GFLOP/s{peak} | threads harness {software.get('torch_threads')}, bare "
        f"{bare_loop.threads} | load average {load_before} -> {_load_average()}"
    )
