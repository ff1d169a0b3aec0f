"""The estimate stored next to every bench result, and `estimate --check` / the fit reading them back."""

from __future__ import annotations

import pytest

from catalog import hardware
from catalog.costmodel import check, estimate, record_terms
from catalog.db import open_database

CONFIG = {"model_type": "bert", "hidden_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
          "intermediate_size": 1024, "vocab_size": 8000}  # fmt: skip


@pytest.fixture
def calibrated(monkeypatch: pytest.MonkeyPatch) -> None:
    cached = {"gflops": {"float32": 100.0}, "bandwidth_gbs": 10.0, "library": "numpy", "measured_at": "now"}
    monkeypatch.setattr(hardware, "cached_peaks", lambda *a, **k: cached)


def _store(db, model: str, batch: int, seq: int, p50: float) -> int:  # type: ignore[no-untyped-def]
    from bench import store
    from bench.results import BenchResult

    run = store.start_run(db, {"models": [model], "threads": None}, hardware.fingerprint(), {})
    terms = record_terms(CONFIG, "feature-extraction", batch, seq, "float32")
    assert terms is not None
    result = BenchResult(model_id=model, task_id="feature-extraction", batch_size=batch, seq_len=seq, device="cpu",
                         dtype="float32", weights="random", latency_p50_ms=p50, peak_rss_infer_mb=60.0,
                         estimate={"terms": terms})  # fmt: skip
    store.save_result(db, run, result)
    store.finish_run(db, run, "finished")
    return run


def test_results_carry_their_estimate_and_check_reads_them(tmp_path, calibrated) -> None:  # type: ignore[no-untyped-def]
    db = open_database(f"sqlite:///{tmp_path / 'c.db'}")
    shapes = [(1, 32, 6.0), (1, 128, 14.0), (8, 32, 21.0), (8, 128, 80.0)]
    for batch, seq, p50 in shapes:
        _store(db, f"random:bert-{batch}-{seq}", batch, seq, p50)
    from bench.store import list_runs

    last = list_runs(db, limit=1)[0]
    from bench.store import get_run

    stored = get_run(db, last.id).results[0].estimate
    assert stored and stored["terms"]["kind"] == "encoder"
    assert stored["latency_ms"] > 0 and stored["fit_cases"] == 3  # predicted from the three other runs only
    result = check(db)
    assert [row["latency_ms"]["measured"] for row in result["rows"]] == [p50 for _, _, p50 in shapes]
    summary = result["summary"]["latency_ms"]
    assert summary["n"] == 4 and 0 <= summary["median_abs_error"] <= summary["worst_abs_error"]
    # a new estimate learns from all four, and has an interval from their leave-one-out errors
    spec = "random:bert," + ",".join(f"{k}={v}" for k, v in CONFIG.items() if k != "model_type")
    report = estimate([spec], task="feature-extraction", seq_lens=(128,), db=db, calibrate=False)
    assert report.fit["cases"] == 4
    low, high = report.estimates[0]["latency_ms"]["interval"]
    assert low <= report.estimates[0]["latency_ms"]["p50"] <= high
    db.dispose()


def test_estimate_of_a_measured_case_never_uses_its_own_run(tmp_path, calibrated) -> None:  # type: ignore[no-untyped-def]
    """A wildly off measurement of this very model and shape must not pull its own estimate."""
    spec = "random:bert," + ",".join(f"{k}={v}" for k, v in CONFIG.items() if k != "model_type")
    db = open_database(f"sqlite:///{tmp_path / 'd.db'}")
    before = estimate([spec], seq_lens=(64,), db=db, calibrate=False).estimates[0]["latency_ms"]["p50"]
    _store(db, spec, 1, 64, before * 50)
    after = estimate([spec], seq_lens=(64,), db=db, calibrate=False).estimates[0]["latency_ms"]["p50"]
    assert after == pytest.approx(before)
    other = estimate([spec], seq_lens=(32,), db=db, calibrate=False).estimates[0]
    assert "fitted on 1 run" in other["basis"]["latency_ms"]  # another shape does learn from it
    db.dispose()
