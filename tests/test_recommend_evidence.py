"""The recommender on quality evidence: the accuracy column, --explain's used and ignored rows, measured results
here, the readable table, and the review fixes (matching runs, one random-weights label, dates and bases)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from catalog.db import open_database
from catalog.db.engine import Database
from catalog.db.schema import evidence, evidence_sources
from catalog.recommend import PROFILES, explain, recommend

BENCHMARKS = """    benchmarks:
      - id: conll2003
        name: "CoNLL-03"
        datasets: ["conll2003", "eriktks/conll2003"]
        splits: [test]
        metric: seqeval-f1
      - id: wnut17
        name: "WNUT-17"
        datasets: ["wnut_17"]
        splits: [test]
        metric: seqeval-f1
        weight: 0.5
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ner_db(request: pytest.FixtureRequest, mini_taxonomy: Path) -> Database:
    """The mini taxonomy with two NER benchmarks, and a third NER model to compare; on SQLite and PostgreSQL."""
    text = mini_taxonomy.read_text(encoding="utf-8")
    text = text.replace("    architectures: [encoder-only]\n  - id: text-generation",
                        "    architectures: [encoder-only]\n" + BENCHMARKS + "  - id: text-generation")  # fmt: skip
    text = text.replace("  - id: openai-community/gpt2\n", """  - id: example/tuned-ner
    family: bert
    tasks: [token-classification]
    params: 110000000
    params_source: test fixture
    license: apache-2.0
    languages: [en]
    downloads: 50
    downloads_as_of: "2024-09-20"
  - id: openai-community/gpt2
""")  # fmt: skip
    mini_taxonomy.write_text(text, encoding="utf-8")
    if request.param == "sqlite":
        return open_database()
    return open_database(str(request.getfixturevalue("postgres_url")))


def _add(db: Database, source: str, kind: str, rows: list[dict[str, Any]]) -> None:
    with db.write() as conn:
        conn.execute(insert(evidence_sources).values(key=source, kind=kind, name=source, format="test",
                                                     location="test", rows_read=len(rows), rows_imported=len(rows),
                                                     skipped={}))  # fmt: skip
        for row in rows:
            values = dict(source_key=source, task_id="token-classification", dataset="conll2003", dataset_config=None,
                          split="test", metric="seqeval-f1", metric_raw="f1", higher_is_better=True,
                          source_kind=kind, source_name=source, source_date=datetime(2024, 5, 1), verified=False,
                          details={}) | row  # fmt: skip
            conn.execute(insert(evidence).values(**values))


def _seed_evidence(db: Database) -> None:
    _add(db, "cards", "model-card", [
        {"model_id": "dslim/bert-base-NER", "value": 0.926, "verified": True},
        {"model_id": "example/small-ner", "value": 0.871},
        {"model_id": "example/small-ner", "value": 0.99, "dataset": "mystery-set"},  # not a benchmark
        {"model_id": "example/small-ner", "value": 0.5, "dataset": "squad", "metric": "squad-f1",
         "task_id": "question-answering"},  # another task
        {"model_id": "dslim/bert-base-NER", "value": 0.40, "dataset": "wnut_17", "n_shot": 0,
         "protocol": "prompted"},  # incomparable protocol
    ])  # fmt: skip
    _add(db, "board", "leaderboard", [
        {"model_id": "example/small-ner", "value": 0.47, "dataset": "wnut_17"},
        {"model_id": "example/tuned-ner", "value": 0.52, "dataset": "wnut_17"},
    ])  # fmt: skip


def test_accuracy_is_the_standing_on_comparable_evidence(ner_db: Database) -> None:
    _seed_evidence(ner_db)
    result = {r.model.id: r for r in recommend("ner", profile="accurate", db=ner_db)}
    dslim, small, tuned = result["dslim/bert-base-NER"], result["example/small-ner"], result["example/tuned-ner"]
    # CoNLL-03 (weight 1): dslim 0.75, small 0.25; WNUT-17 (weight 0.5): tuned 0.75, small 0.25; missing = 0.5
    assert dslim.evidence is not None and dslim.evidence.value == pytest.approx((0.75 + 0.5 * 0.5) / 1.5)
    assert small.evidence is not None and small.evidence.value == pytest.approx((0.25 + 0.5 * 0.25) / 1.5)
    assert tuned.evidence is not None and tuned.evidence.value == pytest.approx((0.5 + 0.5 * 0.75) / 1.5)
    order = [r.model.id for r in recommend("ner", profile="accurate", db=ner_db)]
    assert order.index("dslim/bert-base-NER") < order.index("example/small-ner")
    # the accuracy column names value, metric, benchmark and source kind; JSON carries the rest
    assert dslim.accuracy is not None and dslim.accuracy.cell() == "0.926 F1 CoNLL-03 [card]"
    figure = dslim.to_dict()["accuracy"]
    assert {k: figure[k] for k in ("value", "metric", "benchmark", "source", "date", "verified")} == {
        "value": 0.926, "metric": "seqeval-f1", "benchmark": "CoNLL-03", "source": "model-card",
        "date": "2024-05-01", "verified": True}  # fmt: skip
    assert tuned.accuracy is not None and tuned.accuracy.cell() == "0.52 F1 WNUT-17 [leaderboard]"
    ner_db.dispose()


def test_explain_lists_every_row_used_and_ignored_with_the_reason(ner_db: Database, run_cli) -> None:  # type: ignore[no-untyped-def]
    _seed_evidence(ner_db)
    explanation = explain("example/small-ner", "ner", profile="accurate", db=ner_db)
    used, ignored = explanation.evidence_rows()
    assert sorted((row["benchmark"], row["value"]) for row in used) == [("CoNLL-03", 0.871), ("WNUT-17", 0.47)]
    reasons = {row["value"]: row["reason"] for row in ignored}
    assert reasons == {0.99: "not on one of the task's benchmarks (catalog.yaml)",
                       0.5: "off-task: measures question-answering"}  # fmt: skip
    dslim = explain("dslim/bert-base-NER", "ner", profile="accurate", db=ner_db)
    assert "incomparable protocol: prompted, WNUT-17 is plain" in [row["reason"] for row in dslim.evidence_rows()[1]]
    url = ner_db.url
    ner_db.dispose()
    table = run_cli(
        "recommend", "--db", url, "--task", "ner", "--profile", "accurate", "--explain", "example/small-ner"
    )
    assert table.code == 0, table.err
    assert "Evidence used (2)" in table.out and "Evidence ignored (2)" in table.out
    assert "off-task: measures question-answering" in table.out
    explained = run_cli("recommend", "--db", url, "--task", "ner", "--explain", "example/small-ner", "--format", "json")
    data = json.loads(explained.out)
    assert data["accuracy_basis"] == "evidence" and len(data["evidence_used"]) == 2


def test_a_sole_figure_is_shown_but_not_a_standing(ner_db: Database) -> None:
    _add(ner_db, "cards", "model-card", [{"model_id": "dslim/bert-base-NER", "value": 0.926}])
    result = {r.model.id: r for r in recommend("ner", db=ner_db)}
    dslim = result["dslim/bert-base-NER"]
    assert dslim.accuracy is not None and dslim.accuracy.cell() == "0.926 F1 CoNLL-03 [card] (alone)"
    assert next(c for c in dslim.components if c.name == "accuracy").value == 0.0
    ner_db.dispose()


def test_prior_for_a_fine_tune_is_labelled(ner_db: Database) -> None:
    _seed_evidence(ner_db)
    with ner_db.write() as conn:
        from sqlalchemy import update

        from catalog.db.schema import models

        conn.execute(update(models).where(models.c.id == "example/tuned-ner").values(base_model="dslim/bert-base-NER"))
    with ner_db.write() as conn:
        conn.execute(evidence.delete().where(evidence.c.model_id == "example/tuned-ner"))
    tuned = next(r for r in recommend("ner", db=ner_db) if r.model.id == "example/tuned-ner")
    assert tuned.accuracy is not None and tuned.accuracy.kind == "prior"
    accuracy = next(c for c in tuned.components if c.name == "accuracy")
    assert accuracy.raw.startswith("prior") and "fine-tune of dslim/bert-base-NER" in accuracy.provenance
    ner_db.dispose()


def test_popularity_only_breaks_ties_under_accurate(ner_db: Database) -> None:
    assert PROFILES["accurate"]["popularity"] == 0.0
    # no evidence: with recency and latency off the scores tie, and downloads decide the order
    items = recommend("ner", profile="accurate", weights={"recency": 0.0, "latency": 0.0}, db=ner_db).items
    scores = [round(item.score, 12) for item in items]
    assert scores == [scores[0]] * len(scores)
    assert [item.model.downloads for item in items] == sorted((item.model.downloads or 0 for item in items),
                                                              reverse=True)  # fmt: skip
    ner_db.dispose()


def _run(db: Database, **result: Any) -> int:
    from catalog import hardware
    from catalog.db.models import BenchmarkResult, BenchmarkRun

    with db.session() as s:
        run = BenchmarkRun(machine_id=hardware.fingerprint()["machine_id"], status="finished")
        s.add(run)
        s.flush()
        values = dict(task_id="token-classification", batch_size=1, seq_len=128, device="cpu", dtype="float32",
                      provenance="measured here", status="ok") | result  # fmt: skip
        s.add(BenchmarkResult(run_id=run.id, **values))
        return int(run.id)


def test_measured_here_is_evidence_shown_first(ner_db: Database) -> None:
    _seed_evidence(ner_db)
    for model, f1 in (("example/small-ner", 0.61), ("dslim/bert-base-NER", 0.58)):
        _run(ner_db, model_id=model, batch_size=32, seq_len=0, eval_set="uner_en_ewt", eval_checksum="c1",
             primary_metric="seqeval-f1", metrics={"seqeval-f1": f1}, n_examples=2077)  # fmt: skip
    # random weights are never evidence
    _run(ner_db, model_id="example/tuned-ner", weights="random", eval_set="uner_en_ewt", eval_checksum="c1",
         primary_metric="seqeval-f1", metrics={"seqeval-f1": 0.99})  # fmt: skip
    result = {r.model.id: r for r in recommend("ner", db=ner_db)}
    small = result["example/small-ner"]
    assert small.accuracy is not None and small.accuracy.kind == "measured"
    assert small.accuracy.cell() == "0.61 F1 uner_en_ewt (here) [here]"
    assert small.evidence is not None and "uner_en_ewt (here)" in small.evidence.benchmarks
    assert result["example/tuned-ner"].accuracy is not None
    assert result["example/tuned-ner"].accuracy.source == "leaderboard"
    ner_db.dispose()


def test_latency_only_from_runs_that_match_the_request(ner_db: Database) -> None:
    run = _run(ner_db, model_id="dslim/bert-base-NER", dtype="bfloat16", latency_p50_ms=7.0, peak_rss_infer_mb=300.0)
    plain = next(r for r in recommend("ner", db=ner_db) if r.model.id == "dslim/bert-base-NER")
    assert plain.latency_ms is not None and plain.latency_ms.kind == "estimated"  # float32 asked, bfloat16 measured
    bf16 = next(r for r in recommend("ner", dtype="bfloat16", db=ner_db) if r.model.id == "dslim/bert-base-NER")
    assert bf16.latency_ms is not None and bf16.latency_ms.value == 7.0
    assert f"run {run}" in bf16.latency_ms.basis and "cpu bfloat16" in bf16.latency_ms.basis
    gpu = next(r for r in recommend("ner", dtype="bfloat16", device="cuda", db=ner_db)
               if r.model.id == "dslim/bert-base-NER")  # fmt: skip
    assert gpu.latency_ms is not None and gpu.latency_ms.kind == "estimated"
    _run(ner_db, model_id="example/small-ner", weights="random", latency_p50_ms=3.0, peak_rss_infer_mb=100.0)
    small = next(r for r in recommend("ner", db=ner_db) if r.model.id == "example/small-ner")
    assert small.latency_ms is not None and "measured here, random weights" in small.latency_ms.basis
    assert small.memory_bytes is not None and "measured here, random weights" in small.memory_bytes.basis
    ner_db.dispose()


def test_figures_carry_their_basis_and_date(ner_db: Database) -> None:
    _seed_evidence(ner_db)
    item = next(r for r in recommend("ner", db=ner_db) if r.model.id == "dslim/bert-base-NER")
    data = item.to_dict()
    assert data["downloads_as_of"] == "2024-09-20"
    assert data["params_basis"] and "model card" in data["params_basis"]
    components = {c.name: c for c in item.components}
    assert "as of 2024-09-20" in components["popularity"].raw
    assert "model card" in components["size"].provenance
    assert "2024-05-01" in components["accuracy"].provenance and "verified" in components["accuracy"].provenance
    assert "(reported 2024-05-01)" in components["accuracy"].raw  # the reasons line carries the figure's date
    ner_db.dispose()


def test_no_pipeline_tag_credit_without_a_tag(ner_db: Database) -> None:
    with ner_db.write() as conn:
        from sqlalchemy import update

        from catalog.db.schema import models

        conn.execute(update(models).where(models.c.id == "example/small-ner").values(pipeline_tag=None))
    item = next(r for r in recommend("ner", db=ner_db) if r.model.id == "example/small-ner")
    specialised = next(c for c in item.components if c.name == "specialised")
    assert specialised.value == 0.0 and specialised.provenance == "none" and specialised.raw == "no pipeline tag"
    ner_db.dispose()


# ------------------------------------------------------------------------------------------------ a readable table


def _render(width: int, result: Any) -> list[str]:
    from rich.console import Console

    from catalog.cli.recommend import print_recommendations

    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    print_recommendations(result, console)
    console.file.close()
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [80, 120, 160, 200])
def test_table_is_readable_at_any_width(ner_db: Database, width: int) -> None:
    _seed_evidence(ner_db)
    result = recommend("ner", db=ner_db)
    lines = _render(width, result)
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    for item in result:
        assert any(item.model.id in line for line in lines)  # the id is whole, on one line
        for word in item.why.split() + (item.accuracy.cell().split() if item.accuracy else []):
            assert word in text, f"{word!r} was cut at width {width}"
    assert "downloads: Hub 30-day counts as of 2024-09-20" in " ".join(text.split())
    header = next(line for line in lines if "Model" in line)
    if width >= 120:
        assert "Accuracy" in header and "Why" in header
    else:
        assert "Accuracy" in header  # the reasons follow the table on their own lines when they do not fit
        assert any(line.lstrip().startswith("1. ") for line in lines) or "Why" in header


@pytest.mark.parametrize("width", [80, 120])
def test_explain_is_readable_at_80_and_120_columns(ner_db: Database, width: int) -> None:
    """Every word of every component's figure and provenance, and of every evidence row, appears whole."""
    from rich.console import Console

    from catalog.cli.recommend import _print_components, _print_evidence

    _seed_evidence(ner_db)
    explanation = explain("dslim/bert-base-NER", "ner", db=ner_db)
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    _print_components(explanation, console)
    _print_evidence(explanation, console)
    console.file.close()
    lines = console.export_text().splitlines()
    assert all(len(line) <= width for line in lines)
    text = "\n".join(lines)
    used, ignored = explanation.evidence_rows()
    words = [word for c in explanation.components for word in f"{c.raw} {c.provenance}".split()]
    words += [word for row in used + ignored for word in f"{row['dataset']} {row['source_name']}".split()]
    assert used and words
    for word in words:
        assert word in text, f"{word!r} was cut at width {width}"
    ner_db.dispose()


def test_an_id_wider_than_the_terminal_is_listed_whole(ner_db: Database) -> None:
    from types import SimpleNamespace

    result = recommend("ner", db=ner_db)
    long_id = "an-organisation-with-a-long-name/" + "a-very-long-model-name-" * 3 + "finetuned"
    rows = [row | {"id": long_id} if row["rank"] == 1 else row for row in result.to_list()]
    fake = SimpleNamespace(to_list=lambda: rows, matched=result.matched, considered=result.considered,
                           task=result.task, profile=result.profile, excluded={}, unverifiable=[],
                           suggestion=None)  # fmt: skip
    lines = _render(80, fake)
    assert any(long_id in line for line in lines)  # whole, on its own line, although wider than the table could be
    assert all(len(line) <= 80 for line in lines if long_id not in line)
    ner_db.dispose()


def test_a_row_without_a_split_counts_and_explain_says_so(ner_db: Database, run_cli) -> None:  # type: ignore[no-untyped-def]
    _add(ner_db, "cards", "model-card", [
        {"model_id": "dslim/bert-base-NER", "value": 0.926, "split": None},
        {"model_id": "example/small-ner", "value": 0.871},
        {"model_id": "example/tuned-ner", "value": 0.95, "split": "validation"},
    ])  # fmt: skip
    used = explain("dslim/bert-base-NER", "ner", profile="accurate", db=ner_db).evidence_rows()[0]
    assert [(row["value"], row["note"]) for row in used] == [(0.926, "split not stated")]
    tuned = explain("example/tuned-ner", "ner", profile="accurate", db=ner_db).evidence_rows()[1]
    assert [row["reason"] for row in tuned] == ["other split: validation, CoNLL-03 uses test"]
    url = ner_db.url
    ner_db.dispose()
    table = run_cli("recommend", "--db", url, "--task", "ner", "--explain", "dslim/bert-base-NER")
    assert table.code == 0, table.err
    assert "split not stated" in " ".join(table.out.replace("│", " ").split())
    listed = run_cli("evidence", "list", "--db", url, "--task", "ner", "--benchmark", "conll2003", "--format", "json")
    assert sorted(row["value"] for row in json.loads(listed.out)) == [0.871, 0.926]  # the ranking's own rule
