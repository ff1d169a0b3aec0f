"""Task benchmarks from catalog.yaml: seeded into tasks.benchmarks, matching rules, aggregate coverage."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from catalog.evidence.benchmarks import (
    SPLIT_NOT_STATED,
    aggregate_coverage,
    as_benchmark,
    matches,
    problem,
    split_note,
)


@dataclass
class Row:
    dataset: str
    metric: str
    value: float = 0.5
    dataset_config: str | None = None
    split: str | None = None
    n_shot: int | None = None
    protocol: str | None = None


@pytest.fixture(scope="module")
def benchmarks() -> dict[str, dict]:
    from catalog.evidence.benchmarks import benchmark_record
    from catalog.taxonomy import load_taxonomy

    return {f"{t.id}/{b.id}": benchmark_record(b) for t in load_taxonomy().tasks for b in t.benchmarks}


def test_seeded_benchmarks_carry_direction(db_url: str) -> None:
    from sqlalchemy import select

    from catalog.db import open_database
    from catalog.db.schema import tasks
    from catalog.evidence.query import task_benchmarks

    db = open_database(db_url)
    with db.connect() as conn:
        ner = {b["id"]: b for b in task_benchmarks(conn, "token-classification")}
        asr = {b["id"]: b for b in task_benchmarks(conn, "automatic-speech-recognition")}
        empty = [r.id for r in conn.execute(select(tasks.c.id, tasks.c.benchmarks)) if not r.benchmarks]
    db.dispose()
    assert ner["conll2003"]["name"] == "CoNLL-03" and ner["conll2003"]["higher_is_better"] is True
    assert asr["librispeech-clean"]["higher_is_better"] is False
    assert not empty


def test_dataset_config_split_metric_and_protocol_must_agree(benchmarks: dict[str, dict]) -> None:
    conll = benchmarks["token-classification/conll2003"]
    assert matches(conll, Row("CoNLL2003", "seqeval-f1", split="test"))
    assert not matches(conll, Row("conll2003", "seqeval-f1", split="validation"))
    assert not matches(conll, Row("conll2003", "token-accuracy", split="test"))
    sst2 = benchmarks["text-classification/sst2"]
    assert matches(sst2, Row("glue", "accuracy", dataset_config="sst2", split="validation"))
    assert not matches(sst2, Row("glue", "accuracy", dataset_config="cola", split="validation"))
    assert matches(sst2, Row("sst2", "accuracy"))  # a measured run on the registered dev set names no split
    assert not matches(sst2, Row("sst2", "accuracy", split="train"))
    # a row that names no split is taken (model cards mostly omit it and report test), with a note ...
    assert matches(conll, Row("conll2003", "seqeval-f1"))
    assert split_note(as_benchmark(conll), Row("conll2003", "seqeval-f1")) == SPLIT_NOT_STATED
    # ... unless the benchmark declares what such a figure is (SST-2: only dev has labels)
    assert split_note(as_benchmark(sst2), Row("sst2", "accuracy")) is None
    assert problem(conll, Row("conll2003", "seqeval-f1", split="validation")) == (
        "other split: validation, CoNLL-03 uses test"
    )
    assert problem(sst2, Row("sst2", "accuracy", split="train")) == "other split: train, SST-2 uses validation, dev"
    mmlu = benchmarks["text-generation/openllm-v1-mmlu"]
    assert matches(mmlu, Row("cais/mmlu", "accuracy", n_shot=5))
    assert not matches(mmlu, Row("cais/mmlu", "accuracy", n_shot=0))
    assert matches(mmlu, Row("MMLU", "accuracy"))  # a row that names no shots is taken at the benchmark's


def test_aggregate_counts_only_complete_coverage(benchmarks: dict[str, dict]) -> None:
    classic = benchmarks["feature-extraction/mteb-classic"]
    components = classic["aggregate"]
    assert len(components) == 56
    rows = [Row(c["dataset"], c["metric"], 0.5, c["config"], c["split"]) for c in components]
    full = aggregate_coverage(classic, rows)
    assert full.complete and full.mean == pytest.approx(0.5)
    partial = aggregate_coverage(classic, rows[:-1])
    assert not partial.complete and partial.mean is None and len(partial.missing) == 1


def test_protocol_variants_are_normalised_one_way(benchmarks: dict[str, dict]) -> None:
    """A row's shots may be written in its protocol; its variant is compared without them, case and separators
    aside (the ranking reads rows by this same rule)."""
    mmlu = benchmarks["text-generation/openllm-v1-mmlu"]
    assert matches(mmlu, Row("cais/mmlu", "accuracy", protocol="5-shot"))
    assert problem(mmlu, Row("cais/mmlu", "accuracy", protocol="0-shot")) == (
        "incomparable protocol: 0-shot, OpenLLM-v1 MMLU is 5-shot"
    )
    assert problem(mmlu, Row("cais/mmlu", "accuracy", protocol="5-shot, Chain-of-Thought")) == (
        "incomparable protocol: chain-of-thought, OpenLLM-v1 MMLU is plain"
    )
    spacy = next(b for key, b in benchmarks.items() if (b.get("protocol") or {}).get("variant") == "spacy-meta")
    dataset, _, config = spacy["datasets"][0].partition(":")
    assert matches(spacy, Row(dataset, spacy["metric"], dataset_config=config or None, protocol="SpaCy-Meta"))
    assert not matches(spacy, Row(dataset, spacy["metric"], dataset_config=config or None, protocol="Other Meta"))


def test_another_tasks_row_counts_only_without_a_variant() -> None:
    tuned = {"id": "sst2-ft", "name": "SST-2 (fine-tuned)", "datasets": ["glue:sst2"], "metric": "accuracy",
             "protocol": {"variant": "fine-tuned"}}  # fmt: skip

    @dataclass
    class TaskRow(Row):
        task_id: str | None = None

    row = TaskRow("glue", "accuracy", dataset_config="sst2", split="validation", task_id="text-classification")
    assert problem(tuned, row, "fill-mask") == "off-task: measures text-classification"
    row.protocol = "fine-tuned"
    assert matches(tuned, row, "fill-mask")
