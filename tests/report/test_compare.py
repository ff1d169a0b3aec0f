"""`catalog bench compare`: a slowdown injected into a copy of a run is flagged; a re-run of the same distribution,
or another machine's run of it, is not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.compare import compare_runs
from catalog.db import open_database
from catalog.db.engine import Database
from tests.report.conftest import add_run, ner_result

MODELS = {"dslim/bert-base-NER": (12.0, 0.90, (0.88, 0.92)), "example/small-ner": (3.0, 0.85, (0.83, 0.87))}


def _results(seed: int, scale: float = 1.0, metrics: dict[str, float] | None = None) -> list[dict[str, Any]]:
    results = []
    for i, (model, (p50, metric, ci)) in enumerate(MODELS.items()):
        result = ner_result(model, p50, metric=(metrics or {}).get(model, metric), ci=ci, seed=seed * 10 + i)
        result["samples_ms"] = [s * scale for s in result["samples_ms"]]
        result["latency_p50_ms"] = p50 * scale
        results.append(result)
    return results


@pytest.fixture
def runs(tmp_path: Path, mini_taxonomy: Path) -> tuple[Database, int, int, int]:
    """Run A; run B: A's samples scaled by 1.3 and small-ner's F1 below A's CI; run C: resampled from the same
    distribution with another seed, on another machine."""
    db = open_database(f"sqlite:///{tmp_path / 'compare.db'}")
    a = add_run(db, _results(seed=1))
    b = add_run(db, _results(seed=1, scale=1.3, metrics={"example/small-ner": 0.80}))
    c = add_run(db, _results(seed=2, metrics={"example/small-ner": 0.845}), machine_id="cccc2222dddd", cpu="Other CPU")
    yield db, a, b, c
    db.dispose()


def test_injected_slowdown_is_a_regression(runs: tuple[Database, int, int, int]) -> None:
    db, a, b, _ = runs
    comparison = compare_runs(db, a, b)
    by_model = {r.model: r for r in comparison.rows}
    for row in comparison.rows:
        assert row.latency_verdict == "regression"
        assert row.latency_delta == pytest.approx(0.3, abs=1e-9)
        assert row.p_value is not None and row.p_value < 1e-10
        assert row.samples_a == row.samples_b == 200
    small, bert = by_model["example/small-ner"], by_model["dslim/bert-base-NER"]
    assert small.accuracy_verdict == "regression" and small.metric_delta == pytest.approx(-0.05)
    assert bert.accuracy_verdict == "unchanged"
    assert len(comparison.regressions) == 2 and comparison.same_machine
    # the other way round, the same change is an improvement
    assert {r.latency_verdict for r in compare_runs(db, b, a).rows} == {"improved"}


def test_rerun_of_the_same_distribution_is_not_flagged(runs: tuple[Database, int, int, int]) -> None:
    db, a, _, c = runs
    comparison = compare_runs(db, a, c)
    assert comparison.regressions == []
    assert all(r.latency_verdict == "unchanged" for r in comparison.rows)
    assert all(abs(r.latency_delta or 1) < 0.05 for r in comparison.rows)
    assert {r.accuracy_verdict for r in comparison.rows} == {"unchanged"}
    # across machines: both fingerprints, the differences marked
    assert not comparison.same_machine
    facts = {f["fact"]: f for f in comparison.fingerprint_rows()}
    assert facts["cpu"]["run_a"] == "Test CPU 9000" and facts["cpu"]["run_b"] == "Other CPU" and facts["cpu"]["differs"]
    assert not facts["torch"]["differs"]


def test_threshold_and_failures(runs: tuple[Database, int, int, int]) -> None:
    db, a, b, _ = runs
    # a 30% slowdown is not a regression when only slowdowns above 50% count
    assert {r.latency_verdict for r in compare_runs(db, a, b, threshold=0.5).rows} == {"unchanged"}
    broken = add_run(db, [{"model_id": "dslim/bert-base-NER", "task_id": "token-classification", "batch_size": 1,
                           "seq_len": 128, "status": "oom", "error": "memory guard: 300 MiB"}])  # fmt: skip
    rows = {r.model: r for r in compare_runs(db, a, broken).rows}
    assert rows["dslim/bert-base-NER"].regression and "now oom" in rows["dslim/bert-base-NER"].notes[0]
    assert not rows["example/small-ner"].regression and rows["example/small-ner"].notes == [f"only in run {a}"]


def test_cli(runs: tuple[Database, int, int, int], run_cli) -> None:  # type: ignore[no-untyped-def]
    db, a, b, c = runs
    table = run_cli("bench", "compare", str(a), str(b), "--db", db.url)
    assert table.code == 0, table.err
    assert "REGRESSION" in table.out and "+30.0%" in table.out and "2 regression(s)." in table.out
    assert run_cli("bench", "compare", str(a), str(b), "--db", db.url, "--fail-on-regression").code == 3
    assert run_cli("bench", "compare", str(a), str(c), "--db", db.url, "--fail-on-regression").code == 0
    data = run_cli("bench", "compare", str(a), str(c), "--db", db.url, "--format", "json").json()
    assert isinstance(data, dict) and data["regressions"] == 0 and data["same_machine"] is False
    assert {row["latency_verdict"] for row in data["rows"]} == {"unchanged"}
    assert any(f["fact"] == "cpu" and f["differs"] for f in data["fingerprints"])
    text = run_cli("bench", "compare", str(a), str(c), "--db", db.url)
    assert "≠ cpu" in text.out and "Other CPU" in text.out and "No regressions." in text.out
    missing = run_cli("bench", "compare", str(a), "42", "--db", db.url)
    assert missing.code == 1 and "Unknown benchmark run '42'" in missing.err


def test_accuracy_direction_and_eval_data(tmp_path: Path, mini_taxonomy: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'ppl.db'}")

    def gpt2(perplexity: float, eval_set: str = "wikitext-2") -> list[dict[str, Any]]:
        result = ner_result("openai-community/gpt2", 20.0, metric=0.0, ci=None, task_id="text-generation")
        result |= {"primary_metric": "perplexity", "metrics": {"perplexity": perplexity},
                   "ci95": {"perplexity": [30.0, 34.0]}, "eval_set": eval_set}  # fmt: skip
        return [result]

    a, worse, better, other = (add_run(db, gpt2(32.0)), add_run(db, gpt2(36.0)), add_run(db, gpt2(28.0)),
                               add_run(db, gpt2(40.0, eval_set="ptb")))  # fmt: skip
    assert compare_runs(db, a, worse).rows[0].accuracy_verdict == "regression"  # perplexity went up
    assert compare_runs(db, a, better).rows[0].accuracy_verdict == "improved"
    row = compare_runs(db, a, other).rows[0]
    assert row.accuracy_verdict == "not tested" and "different eval sets" in row.notes[0]
    db.dispose()
