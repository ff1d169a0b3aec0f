"""The first recommender: task filter, exclusions, deterministic explained scores, Python API."""

from __future__ import annotations

from pathlib import Path

import pytest

import catalog
from catalog.db import open_database
from catalog.errors import UnknownTaskError, UsageError
from catalog.recommend import COMPONENTS, recommend


def _card_rows(db: object, rows: list[tuple[str, float]]) -> None:
    """Model-card results on CoNLL-2003 (the mini taxonomy names no benchmarks, so rows group by dataset)."""
    from datetime import datetime

    from sqlalchemy import insert

    from catalog.db.schema import evidence, evidence_sources

    with db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(evidence_sources).values(key="cards", kind="model-card", name="cards", format="test",
                                                     location="test", skipped={}))  # fmt: skip
        for model_id, value in rows:
            conn.execute(insert(evidence).values(
                source_key="cards", model_id=model_id, task_id="token-classification", dataset="conll2003",
                split="test", metric="seqeval-f1", metric_raw="f1", value=value, higher_is_better=True,
                source_kind="model-card", source_name="model card", source_date=datetime(2024, 1, 1), details={},
            ))  # fmt: skip


def test_python_api_is_callable_from_the_package(mini_taxonomy: Path) -> None:
    # Changed by issue 12: a lone reported figure (nothing comparable among the candidates) is shown but no longer
    # counts as accuracy, so the order follows the other components.
    result = catalog.recommend(task="ner")
    assert {r.model.id for r in result} == {"dslim/bert-base-NER", "example/small-ner"}
    assert [r.score for r in result] == sorted((r.score for r in result), reverse=True)
    assert result.task == "token-classification"


def test_components_add_up_to_the_score(mini_taxonomy: Path) -> None:
    for item in recommend("ner"):
        assert item.score == pytest.approx(sum(c.weight * c.value for c in item.components))
        assert {c.name for c in item.components} == set(COMPONENTS)
        assert all(0.0 <= c.value <= 1.0 for c in item.components)
        assert all(c.provenance for c in item.components)


def test_api_only_models_need_include_api(mini_taxonomy: Path) -> None:
    plain = recommend("text-generation")
    assert [r.model.id for r in plain] == ["openai-community/gpt2"]
    assert plain.excluded == {"API-only models (add --include-api)": 1}
    wider = recommend("text-generation", include_api=True)
    assert {r.model.id for r in wider} == {"openai-community/gpt2", "anthropic/claude-3-haiku"}


def test_order_is_deterministic_and_weights_matter(mini_taxonomy: Path) -> None:
    db = open_database()
    first = [r.model.id for r in recommend("ner", db=db)]
    assert first == [r.model.id for r in recommend("ner", db=db)]
    # With accuracy alone the two NER models differ only by their standing on comparable evidence (changed by
    # issue 12: a mid-rank percentile among the candidates, no longer the raw figure).
    _card_rows(db, [("dslim/bert-base-NER", 0.913), ("example/small-ner", 0.80)])
    only_accuracy = recommend("ner", db=db, weights={name: 0.0 for name in COMPONENTS} | {"accuracy": 1.0})
    assert only_accuracy.items[0].model.id == "dslim/bert-base-NER"
    assert only_accuracy.items[0].score == pytest.approx(0.75)
    assert only_accuracy.items[1].score == pytest.approx(0.25)
    db.dispose()


def test_limit_and_bad_input(mini_taxonomy: Path) -> None:
    assert len(recommend("ner", limit=1)) == 1
    with pytest.raises(UnknownTaskError, match="Did you mean: ner"):
        recommend("nerr")
    with pytest.raises(UsageError):
        recommend("ner", limit=-3)
    with pytest.raises(UsageError, match="Unknown score component"):
        recommend("ner", weights={"vibes": 1.0})


def test_to_dataframe(mini_taxonomy: Path) -> None:
    pytest.importorskip("pandas")
    frame = recommend("ner").to_dataframe()
    assert list(frame["rank"]) == [1, 2]
    assert {"id", "score", "why", "license"} <= set(frame.columns)


def test_measured_results_for_this_machine_take_precedence(mini_taxonomy: Path) -> None:
    from catalog import hardware
    from catalog.db.models import BenchmarkResult, BenchmarkRun

    db = open_database()
    estimated = {r.model.id: r for r in recommend("ner", db=db)}
    assert estimated["dslim/bert-base-NER"].latency_ms.kind == "estimated"
    with db.session() as s:
        here = BenchmarkRun(machine_id=hardware.fingerprint()["machine_id"], status="finished")
        elsewhere = BenchmarkRun(machine_id="another-box", status="finished")
        s.add_all([here, elsewhere])
        s.flush()
        common = dict(task_id="token-classification", batch_size=1, seq_len=128, device="cpu", dtype="float32",
                      provenance="measured here", status="ok")  # fmt: skip
        s.add(BenchmarkResult(run_id=here.id, model_id="dslim/bert-base-NER", latency_p50_ms=42.0,
                              peak_rss_infer_mb=512.0, **common))  # fmt: skip
        s.add(BenchmarkResult(run_id=elsewhere.id, model_id="example/small-ner", latency_p50_ms=1.0, **common))
    result = {r.model.id: r for r in recommend("ner", db=db)}
    bert = result["dslim/bert-base-NER"]
    assert bert.latency_ms.value == 42.0 and bert.latency_ms.kind == "measured"
    assert f"run {here.id}" in bert.latency_ms.basis
    assert bert.memory_bytes.kind == "measured" and bert.memory_bytes.value == 512 * 2**20
    with db.session() as s:
        s.add(BenchmarkResult(run_id=here.id, model_id="example/small-ner", status="ok", task_id="token-classification",
                              batch_size=32, seq_len=0, device="cpu", dtype="float32", provenance="measured here",
                              eval_set="uner_en_ewt", primary_metric="seqeval-f1", metrics={"seqeval-f1": 0.61},
                              ci95={"seqeval-f1": [0.58, 0.64]}, n_examples=2077))  # fmt: skip
    _card_rows(db, [("dslim/bert-base-NER", 0.913), ("example/small-ner", 0.80)])
    result = {r.model.id: r for r in recommend("ner", db=db)}
    small_accuracy = result["example/small-ner"].accuracy
    assert (
        small_accuracy.kind == "measured" and small_accuracy.value == 0.61 and "uner_en_ewt" in small_accuracy.benchmark
    )
    assert result["dslim/bert-base-NER"].accuracy.kind == "reported"  # the card's figure where nothing was measured
    # a result from another machine is not used here
    assert result["example/small-ner"].latency_ms.kind == "estimated"
    # the measured figure decides a latency target
    small = result["example/small-ner"].latency_ms.value
    assert small > 42.0
    assert [r.model.id for r in recommend("ner", max_latency_ms=(42.0 + small) / 2, db=db)] == ["dslim/bert-base-NER"]
    db.dispose()


def test_pareto_without_a_frontier_says_why(mini_taxonomy: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("recommend", "--task", "ner", "--pareto")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --pareto: none of the 2 matching token-classification")
    assert "drop --pareto" in lines[0]
