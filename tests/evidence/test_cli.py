"""The `catalog evidence` commands and `catalog show` listing a model's evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _team_file(tmp_path: Path) -> Path:
    path = tmp_path / "team.csv"
    path.write_text(
        "model_id,task,dataset,split,metric,value,scale,n_shot,date\n"
        "dslim/bert-base-NER,ner,conll2003,test,f1,90.1,percent,,2025-03-01\n"
        "dslim/bert-base-NER,ner,wnut_17,test,f1,0.45,,,2025-03-01\n"
        "org/other,text-classification,imdb,test,accuracy,0.93,,,\n",
        encoding="utf-8",
    )
    return path


def test_import_list_sources_show(run_cli: Any, tmp_path: Path) -> None:
    imported = run_cli("evidence", "import", str(_team_file(tmp_path)), "--source", "measured", "--output", "json")
    assert imported.code == 0, imported.err
    assert imported.json()["rows_imported"] == 3 and imported.json()["kind"] == "measured"
    sources = run_cli("evidence", "sources", "--format", "json").json()
    assert {s["key"] for s in sources} >= {"catalog.yaml", f"generic:{tmp_path / 'team.csv'}"}  # type: ignore[union-attr]
    conll = run_cli("evidence", "list", "--task", "ner", "--benchmark", "conll2003", "--format", "json").json()
    assert {(r["model_id"], r["source_name"], r["value"]) for r in conll} == {  # type: ignore[union-attr]
        ("dslim/bert-base-NER", "catalog.yaml", 0.9259),
        ("dslim/bert-base-NER", "team", 0.901),
    }
    wnut = run_cli("evidence", "list", "-b", "wnut17", "--format", "csv")
    assert wnut.code == 0 and "wnut_17" in wnut.out and "imdb" not in wnut.out
    shown = run_cli("evidence", "show", "dslim/bert-base-NER", "--format", "json").json()
    assert len(shown) == 6  # type: ignore[arg-type]  # 4 curated figures + 2 imported
    table = run_cli("show", "dslim/bert-base-NER")
    assert table.code == 0 and "evidence seqeval-f1" in table.out and "[measured]" in " ".join(table.out.split())
    data = run_cli("show", "dslim/bert-base-NER", "--format", "json").json()
    assert len(data[0]["evidence"]) == 6  # type: ignore[index]


def test_published_dates_rows_without_a_date_of_their_own(run_cli: Any, tmp_path: Path) -> None:
    team = _team_file(tmp_path)
    refused = run_cli("evidence", "import", str(team), "--published", "2025-13-01")
    assert refused.code == 1 and "--published '2025-13-01' is not an ISO date" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert run_cli("evidence", "sources", "--format", "json").json() == [  # nothing imported by the refusal
        s
        for s in run_cli("evidence", "sources", "--format", "json").json()
        if s["key"] == "catalog.yaml"  # type: ignore[union-attr]
    ]
    imported = run_cli("evidence", "import", str(team), "--published", "2025-06-30", "--output", "json")
    assert imported.code == 0, imported.err
    rows = run_cli("evidence", "list", "--model", "org/other", "--format", "json").json()
    assert [r["source_date"][:10] for r in rows] == ["2025-06-30"]  # type: ignore[index]  # no date of its own
    dated = run_cli("evidence", "list", "-b", "wnut17", "--format", "json").json()
    assert [r["source_date"][:10] for r in dated] == ["2025-03-01"]  # type: ignore[index]  # its own date wins


def test_unknown_benchmark_suggests(run_cli: Any) -> None:
    result = run_cli("evidence", "list", "--task", "ner", "--benchmark", "conll2030")
    assert result.code == 1 and "Did you mean: conll2003" in result.err


def test_help_texts(run_cli: Any) -> None:
    for command in ("import", "sources", "list", "show"):
        result = run_cli("evidence", command, "--help")
        assert result.code == 0 and len(result.out.splitlines()) > 3


def test_import_from_a_url(run_cli: Any, tmp_path: Path) -> None:
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    _team_file(tmp_path)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/team.csv"
    try:
        report = run_cli("evidence", "import", url, "--output", "json")
        missing = run_cli("evidence", "import", url.replace("team", "none"))
    finally:
        server.shutdown()
        server.server_close()
    assert report.code == 0 and report.json()["source"] == f"generic:{url}" and report.json()["rows_imported"] == 3
    assert missing.code == 1 and "Cannot download" in missing.err and missing.err.count("\n") == 1


def test_single_card_without_front_matter_end_is_refused(run_cli: Any, tmp_path: Path) -> None:
    card = tmp_path / "org" / "model" / "README.md"
    card.parent.mkdir(parents=True)
    card.write_text(
        "---\nlicense: mit\nmodel-index:\n- name: m\n  results:\n  - task: {type: token-class", encoding="utf-8"
    )
    result = run_cli("evidence", "import", str(card))
    assert result.code == 1 and result.err.count("\n") == 1 and str(card) in result.err


_SOURCES = [
    {"key": "mteb:/home/someone/src/embeddings-benchmark/results/results", "kind": "leaderboard",
     "name": "mteb-results", "format": "mteb", "rows_read": 27971, "rows_imported": 27411,
     "skipped": {"empty-scores": 560}, "imported_at": "2026-12-02T14:00:00"},
    {"key": "hub-eval-results:/home/someone/models/acme__chat-7b/.eval_results", "kind": "hub",
     "name": "hub-eval-results", "format": "hub-eval-results", "rows_read": 5, "rows_imported": 4,
     "skipped": {"unknown-benchmark": 1}, "imported_at": "2026-12-02T14:05:00"},
]  # fmt: skip


@pytest.mark.parametrize("width", [80, 120])
def test_sources_table_readable_at_width(width: int) -> None:
    from rich.console import Console

    from catalog.cli.evidence import print_sources

    console = Console(width=width, record=True, color_system=None)
    print_sources(_SOURCES, console)
    text = console.export_text()
    lines = text.splitlines()
    table = text.split("Source keys")[0]
    assert all(len(line) <= width for line in table.splitlines())
    for source in _SOURCES:
        assert source["name"] in table  # whole, on one line
        assert source["key"] in text.replace("\n", "")  # each key listed whole after the table
    keys = [line for line in lines if "/home/someone" in line]
    assert len(keys) <= 2 * len(_SOURCES)  # a key on its own line (the terminal may fold it), not in fragments
    if width >= 120:
        assert "Skipped" in table and "unknown-benchmark 1" in table


_ROWS = [
    {"model_id": model, "task_id": "automatic-speech-recognition", "dataset": dataset, "dataset_config": config,
     "split": split, "metric": "wer", "value": value, "n_shot": None, "source_kind": "leaderboard",
     "source_name": "open-asr-leaderboard/multilingual", "source_date": None, "verified": True,
     "self_reported": False}
    for model, dataset, config, split, value in [
        ("CohereLabs/cohere-transcribe-03-2026", "open-asr-leaderboard/fleurs", "fr", None, 0.0612),
        ("jonatasgrosman/wav2vec2-large-xlsr-53-chinese-zh-cn", "mozilla-foundation/common_voice_8_0", "zh-CN",
         "test", 0.7311),
        ("dslim/bert-base-NER", "conll2003", None, "test", 0.9034),
    ]
]  # fmt: skip


@pytest.mark.parametrize("width", [60, 80, 120, 160])
def test_evidence_table_readable_at_width(width: int) -> None:
    """Columns are chosen by width: no word is cut, the model id and dataset stay whole, nothing runs off the edge;
    too narrow for the table, each row is a block of lines."""
    from rich.console import Console

    from catalog.cli.evidence import _evidence_columns
    from catalog.output import render_table

    console = Console(width=width, record=True, color_system=None)
    render_table(_ROWS, _evidence_columns(), title="Evidence", console=console)
    text = console.export_text()
    assert all(len(line) <= width for line in text.splitlines())
    for row in _ROWS:  # whole, on one line
        assert row["model_id"] in text and row["dataset"] in text and f"{row['value']:.4g}" in text
    if width >= 120:
        assert "Model" in text and "Value" in text  # a table
    if width >= 160:
        assert "Kind" in text and "leaderboard" in text
