"""The Hub's `.eval_results/*.yaml` format: file and folder import, and the same entries from `catalog sync`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from catalog.db import open_database
from catalog.db.schema import evidence
from catalog.evidence.api import import_evidence
from catalog.evidence.importers import detect
from tests.support.hub_server import FakeHub, HubServer

# Written from the documented schema (huggingface/hub-docs docs/hub/eval-results.md and eval_results.yaml): a
# verified, dated, sourced HLE score without tools, the same benchmark with tools, the minimal form with the older
# spec's `config`, a result on a catalog.yaml benchmark (CoNLL-2003, percent), one on a dataset no registry or
# benchmark knows, and a field this reader does not know.
EVAL_RESULTS = """\
- dataset:
    id: cais/hle
    task_id: default
    revision: 5503434ddd753f426f4b38109466949a1217c2bb
  value: 20.90
  verifyToken: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.signature
  date: "2025-01-15T10:30:00Z"
  source:
    url: https://huggingface.co/spaces/acme/hle-traces
    name: Eval traces
    user: acme
  evaluation_framework: inspect-ai
  notes: no-tools
  reviewer_comment: a field the spec may add later
- dataset:
    id: cais/hle
    task_id: default
  value: 26.4
  notes: tools
- dataset:
    id: Idavidrein/gpqa
    config: gpqa_diamond
  value: 0.412
- dataset:
    id: conll2003
    split: test
  value: 92.4
- dataset:
    id: acme/private-bench
    task_id: default
  value: 0.5
"""


@pytest.fixture
def db(tmp_path: Path) -> Any:
    database = open_database(f"sqlite:///{tmp_path / 'evidence.db'}")
    yield database
    database.dispose()


def _repo(root: Path, name: str, text: str = EVAL_RESULTS) -> Path:
    folder = root / name / ".eval_results"
    folder.mkdir(parents=True)
    (folder / "scores.yaml").write_text(text, encoding="utf-8")
    return folder / "scores.yaml"


def _rows(db: Any, key: str) -> list[Any]:
    with db.connect() as conn:
        rows = conn.execute(select(evidence).where(evidence.c.source_key == key)).all()
    return sorted(rows, key=lambda r: (r.dataset.lower(), r.value))


def test_eval_results_file_mapped_through_registry_and_benchmarks(db: Any, tmp_path: Path) -> None:
    file = _repo(tmp_path, "acme__chat-7b")
    assert detect(file) == "hub-eval-results" and detect(file.parent.parent) == "hub-eval-results"
    report = import_evidence(db, str(file))
    assert (report.rows_read, report.rows_imported) == (5, 4)
    assert report.skipped == {"unknown-benchmark": 1}
    rows = _rows(db, report.source.key)
    assert {r.model_id for r in rows} == {"acme/chat-7b"}  # from the path's org__name
    hle_plain, hle_tools, conll, gpqa = rows
    assert (conll.task_id, conll.metric, conll.value, conll.split) == (
        "token-classification",
        "seqeval-f1",
        0.924,
        "test",
    )
    assert (gpqa.metric, gpqa.value, gpqa.dataset_config, gpqa.task_id) == (
        "accuracy",
        0.412,
        "gpqa_diamond",
        "text-generation",
    )
    assert (hle_plain.value, hle_plain.verified, hle_plain.self_reported) == (pytest.approx(0.209), True, False)
    assert hle_plain.source_url == "https://huggingface.co/spaces/acme/hle-traces"
    assert hle_plain.source_date.isoformat() == "2025-01-15T10:30:00" and hle_plain.harness == "inspect-ai"
    assert hle_plain.details["task_id"] == "default" and hle_plain.details["verify_token"] == "present"
    assert (hle_tools.verified, hle_tools.source_url) == (
        False,
        "https://huggingface.co/acme/chat-7b/blob/main/.eval_results/scores.yaml",
    )
    # the with-tools score is another protocol than the plain one, and neither is the Open LLM set-up
    # "no tools" is the documented default: the same protocol as an entry without notes
    assert [r.protocol for r in (gpqa, hle_plain, hle_tools)] == [
        "hub eval.yaml",
        "hub eval.yaml",
        "hub eval.yaml, with tools",
    ]
    assert hle_tools.details["notes"] == "tools"  # the author's words kept
    assert all(r.source_kind == "hub" for r in rows)


def test_eval_results_never_compared_across_protocols(db: Any, tmp_path: Path) -> None:
    from catalog.evidence.benchmarks import Benchmark, protocol_problem

    report = import_evidence(db, str(_repo(tmp_path, "acme__chat-7b")))
    rows = [r for r in _rows(db, report.source.key) if r.dataset == "cais/hle"]
    plain = Benchmark(id="hle", name="HLE", datasets=("cais/hle",), metric="accuracy", variant="hub eval.yaml")
    assert [protocol_problem(plain, r) is None for r in rows] == [True, False]  # with tools is another protocol
    gpqa = [r for r in _rows(db, report.source.key) if r.dataset == "Idavidrein/gpqa"]
    openllm = Benchmark(id="gpqa", name="OpenLLM GPQA", datasets=("Idavidrein/gpqa",), metric="accuracy", n_shot=0)
    assert protocol_problem(openllm, gpqa[0]) is not None


def test_eval_results_folder_of_repos_model_option_and_reimport(db: Any, tmp_path: Path) -> None:
    _repo(tmp_path / "hub", "acme/chat-7b")
    _repo(tmp_path / "hub", "other__llm-1b", "- dataset: {id: openai/gsm8k, task_id: main}\n  value: 0.62\n")
    report = import_evidence(db, str(tmp_path / "hub"))
    assert report.rows_imported == 5
    assert {r.model_id for r in _rows(db, report.source.key)} == {"acme/chat-7b", "other/llm-1b"}
    again = import_evidence(db, str(tmp_path / "hub"))
    assert (again.rows_imported, again.replaced) == (5, 5) and len(_rows(db, report.source.key)) == 5
    loose = tmp_path / "loose.yaml"
    loose.write_text("- dataset: {id: openai/gsm8k, task_id: main}\n  value: 0.7\n", encoding="utf-8")
    named = import_evidence(db, str(loose), fmt="hub-eval-results", model="acme/named")
    assert [r.model_id for r in _rows(db, named.source.key)] == ["acme/named"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (EVAL_RESULTS[: EVAL_RESULTS.index('date: "2025') + 12], "not valid YAML"),  # cut inside a quoted date
        ("dataset:\n  id: cais/hle\nvalue: 3\n", "a YAML list of results"),
    ],
)
def test_malformed_eval_results_file_refused(run_cli: Any, tmp_path: Path, text: str, message: str) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    good = _repo(tmp_path, "acme__good")
    assert run_cli("evidence", "import", str(good), "--db", url).code == 0
    before = run_cli("evidence", "list", "--limit", "0", "--format", "json", "--db", url).json()
    bad = _repo(tmp_path, "acme__bad", text)
    result = run_cli("evidence", "import", str(bad), "--db", url)
    assert result.code != 0 and message in result.err and len(result.err.strip().splitlines()) == 1
    assert run_cli("evidence", "list", "--limit", "0", "--format", "json", "--db", url).json() == before


def test_eval_results_without_a_model_asks_for_one(run_cli: Any, tmp_path: Path) -> None:
    loose = tmp_path / "scores.yaml"
    loose.write_text(EVAL_RESULTS, encoding="utf-8")
    result = run_cli("evidence", "import", str(loose), "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert result.code != 0 and "--model ORG/NAME" in result.err


def _record(model_id: str, eval_results: list[dict[str, Any]] | None) -> dict[str, Any]:
    record: dict[str, Any] = {"id": model_id, "pipeline_tag": "token-classification", "downloads": 10,
                              "tags": ["transformers", "token-classification"], "library_name": "transformers",
                              "createdAt": "2024-01-01T00:00:00.000Z", "lastModified": "2024-02-01T00:00:00.000Z"}  # fmt: skip
    if eval_results is not None:
        record["evalResults"] = eval_results
    return record


def test_sync_stores_hub_eval_results(mini_taxonomy: Path, db_url: str) -> None:
    from catalog.hub.sync import sync_from_hub

    text = mini_taxonomy.read_text(encoding="utf-8")
    benchmark = (
        "    benchmarks:\n      - id: conll2003\n        name: CoNLL-03\n        datasets: [conll2003]\n"
        "        splits: [test]\n        metric: seqeval-f1\n"
    )
    marker = "    metrics: [seqeval-f1]\n    architectures: [encoder-only]\n"
    mini_taxonomy.write_text(text.replace(marker, marker + benchmark, 1), encoding="utf-8")
    entries = [
        {"filename": ".eval_results/conll.yaml", "verified": True,
         "data": {"dataset": {"id": "conll2003", "split": "test"}, "value": 0.913, "date": "2025-02-01"}},
        {"filename": ".eval_results/broken.yaml", "error": "value is required"},
        {"dataset": {"id": "acme/private-bench", "task_id": "default"}, "value": 0.5},
        {"dataset": {"id": "conll2003", "split": "validation"}, "value": 0.9, "notes": "a NUL \x00 here"},
    ]  # fmt: skip
    hub = FakeHub.from_records([_record("org/ner-a", entries), _record("org/ner-b", None)])
    db = open_database(db_url)
    with HubServer(hub) as server:
        sync_from_hub(db, tasks=["token-classification"], limit=10, endpoint=server.url)
        first = _rows(db, "hub-sync")
        hub.add_record(_record("org/ner-a", [{"dataset": {"id": "conll2003", "split": "test"}, "value": 91.9}]))
        sync_from_hub(db, tasks=["token-classification"], limit=10, endpoint=server.url)
    second = _rows(db, "hub-sync")
    db.dispose()
    assert [(r.model_id, r.metric, r.value, r.verified, r.source_kind, r.protocol) for r in first] == [
        ("org/ner-a", "seqeval-f1", pytest.approx(0.913), True, "hub", "hub eval.yaml")
    ]
    assert first[0].details["filename"] == ".eval_results/conll.yaml"  # the NUL entry refused, not the model
    assert [(r.model_id, r.value, r.verified) for r in second] == [("org/ner-a", pytest.approx(0.919), False)]


def test_hub_item_eval_results_field_spellings() -> None:
    from catalog.hub.records import parse_item

    entry = {"dataset": {"id": "cais/hle", "task_id": "default"}, "value": 20.9}
    camel = parse_item({"id": "org/m", "evalResults": [entry, "not an entry"]})
    snake = parse_item({"id": "org/m", "eval_results": [entry]})
    assert camel.eval_results == snake.eval_results == [entry]
    assert camel.to_hub_dict()["evalResults"] == [entry]  # kept in snapshot exports
    assert parse_item({"id": "org/m"}).digest() != camel.digest()  # a changed result re-syncs the model


@pytest.mark.parametrize(
    ("notes", "variant"),
    [
        ("tools", "with tools"),
        ("With tools", "with tools"),
        ("No tools.", None),
        ("no-tools", None),
        ("chain-of-thought", "chain of thought"),
        (None, None),
        (" . ", None),
    ],
)
def test_note_variant(notes: str | None, variant: str | None) -> None:
    from catalog.evidence.importers.evalresults import note_variant

    assert note_variant(notes) == variant


def test_metric_from_catalog_benchmarks() -> None:
    from catalog.evidence.importers.evalresults import _benchmark_metric

    benchmarks = [
        ("question-answering", {"id": "squad", "datasets": ["squad"], "metric": "squad-f1"}),
        ("text2text-generation", {"id": "squad-gen", "datasets": ["squad"], "metric": "exact-match"}),
        ("summarization", {"id": "cnn", "datasets": ["cnn_dailymail:3.0.0"], "metric": "rouge-l"}),
        ("text2text-generation", {"id": "cnn-t2t", "datasets": ["cnn_dailymail:3.0.0"], "metric": "rouge-l"}),
        ("sentence-similarity", {"id": "mteb", "metric": "mteb-mean",
                                 "aggregate": [{"dataset": "mteb/STS17", "config": "en-en", "metric": "spearman"}]}),
    ]  # fmt: skip
    assert _benchmark_metric("cais/hle", None, benchmarks) == ("accuracy", "text-generation")  # the registry's
    assert (
        _benchmark_metric("squad", None, benchmarks)
        == "exact-match for text2text-generation, squad-f1 for question-answering"
    )
    assert _benchmark_metric("cnn_dailymail", "3.0.0", benchmarks) == ("rouge-l", None)  # two tasks, one metric
    assert _benchmark_metric("cnn_dailymail", "1.0.0", benchmarks) is None  # another config
    assert _benchmark_metric("mteb/STS17", "en-en", benchmarks) == ("spearman", "sentence-similarity")
    assert _benchmark_metric("mteb/STS17", "en-de", benchmarks) is None


def test_fallback_reader_matches_huggingface_hub() -> None:
    import yaml
    from huggingface_hub import parse_eval_result_entries

    from catalog.evidence.importers.evalresults import _fallback_entries

    data = yaml.safe_load(EVAL_RESULTS)
    data = [{**d, "dataset": {"task_id": d["dataset"].get("config"), **d["dataset"]}} for d in data]
    fields = ("dataset_id", "task_id", "value", "dataset_revision", "verify_token", "date", "source_url",
              "source_name", "source_user", "source_org", "notes")  # fmt: skip
    theirs = [tuple(getattr(e, f) for f in fields) for e in parse_eval_result_entries(data)]
    ours = [tuple(getattr(e, f) for f in fields) for e in _fallback_entries(data)]
    assert ours == theirs
    with pytest.raises(ValueError):
        _fallback_entries([{"dataset": {"id": "x"}, "value": 1, "source": {"name": "no url"}}])


def test_plain_hub_scores_count_on_the_hub_benchmarks_and_tool_scores_do_not(db: Any, tmp_path: Path) -> None:
    """catalog.yaml's text-generation benchmarks take the Hub's eval.yaml scores without tools, never with tools, and
    never on the Open LLM Leaderboard's GPQA (another protocol and metric)."""
    from catalog.evidence.benchmarks import benchmark_record, problem
    from catalog.taxonomy import load_taxonomy

    task = next(t for t in load_taxonomy().tasks if t.id == "text-generation")
    benchmarks = {b.id: benchmark_record(b) for b in task.benchmarks}
    report = import_evidence(db, str(_repo(tmp_path, "acme__chat-7b")))
    by_value = {round(r.value, 3): r for r in _rows(db, report.source.key)}
    hle_plain, hle_tools, gpqa = by_value[0.209], by_value[0.264], by_value[0.412]
    assert problem(benchmarks["hub-evals-hle"], hle_plain, "text-generation") is None
    assert "with tools" in (problem(benchmarks["hub-evals-hle"], hle_tools, "text-generation") or "")
    assert problem(benchmarks["hub-evals-gpqa"], gpqa, "text-generation") is None
    assert problem(benchmarks["openllm-v2-gpqa"], gpqa, "text-generation") is not None
