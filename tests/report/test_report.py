"""`catalog bench report`: the figures it prints are the ones the database holds, each with its provenance."""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path

from sqlalchemy import select

from bench.report import (
    build_report,
    fmt_mb,
    fmt_metric_ci,
    fmt_ms,
    fmt_rate,
    pareto_front,
    results_frame,
)
from catalog.db.engine import Database
from catalog.db.models import BenchmarkResult
from tests.report.conftest import EVIL, add_run, ner_result


def _url(db: Database) -> str:
    return db.url


def _line_for(markdown: str, model: str, shape: str) -> str:
    cell = model.replace("<", "&lt;").replace(">", "&gt;")
    lines = [line for line in markdown.splitlines() if line.startswith(f"| {cell} ") and f"| {shape} |" in line]
    assert len(lines) == 1, f"{model} {shape}: {lines}"
    return lines[0]


def test_markdown_numbers_are_the_database_numbers(report_db: Database) -> None:
    markdown = build_report(report_db).to_markdown()
    with report_db.session() as session:
        rows = session.scalars(select(BenchmarkResult).where(BenchmarkResult.status == "ok")).all()
        assert len(rows) == 5
        for row in rows:
            line = _line_for(markdown, row.model_id, f"{row.batch_size}×{row.seq_len}")
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert cells[3:9] == [
                fmt_ms(row.latency_p50_ms),
                fmt_ms(row.latency_p90_ms),
                fmt_ms(row.latency_p99_ms),
                fmt_rate(row.throughput_items_s),
                fmt_rate(row.throughput_tokens_s),
                fmt_mb(row.peak_rss_infer_mb),
            ]
            if row.primary_metric and row.weights == "real":
                metric = row.metrics[row.primary_metric]
                assert cells[9] == row.primary_metric
                assert cells[10] == fmt_metric_ci(metric, row.ci95[row.primary_metric])
                assert cells[12].startswith(row.eval_set) and f"n={row.n_examples}" in cells[12]
            assert cells[13] == ("○ estimated" if row.weights == "random" else "● measured")
    # literal spot checks, so a formatter bug cannot hide behind itself
    bert = _line_for(markdown, "dslim/bert-base-NER", "1×128")
    for text in ("12.34", "13.57", "15.43", "81.0", "512", "0.9012 [0.8900, 0.9120]", "conll2003-sample (n=500)"):
        assert f"| {text} |" in bert
    # the card's 91.3 % seqeval-f1 is on CoNLL-2003, the measured one on a sample of it: not the same benchmark, so
    # they are not put side by side (changed by issue 12; test_reported_figure_only_on_the_same_benchmark)
    assert "reported (model card)" not in bert
    assert "| ○ estimated |" in _line_for(markdown, "openai-community/gpt2", "1×64")
    assert "failed: RuntimeError: broken checkpoint" in _line_for(markdown, "example/broken", "1×128")
    # grouped by task, frontier named, fingerprint present
    assert markdown.index("## text-generation") < markdown.index("## token-classification")
    assert "Pareto frontier (seqeval-f1 vs p50 latency at 1×128): example/small-ner, dslim/bert-base-NER." in markdown
    assert (
        "| Test CPU 9000 | 8 physical / 16 logical | 64.0 | none | Linux 6.1 | 3.11.9 | 2.13.0 | 4.50.0 |" in markdown
    )
    assert EVIL not in markdown


def test_records_and_dataframe(report_db: Database) -> None:
    frame = results_frame(report_db)
    assert len(frame) == 6
    bert = frame[(frame.model == "dslim/bert-base-NER") & (frame.batch_size == 1)].iloc[0]
    assert bert.latency_p50_ms == 12.34 and bert.metric_value == 0.9012
    assert (bert.metric_ci95_low, bert.metric_ci95_high) == (0.89, 0.912)
    assert bert.reported_value is None  # measured on a sample: not the card's benchmark (issue 12)
    assert bert.provenance == "measured"
    assert frame[frame.model == "openai-community/gpt2"].iloc[0].provenance == "estimated"
    assert "samples_ms" not in frame
    with_samples = results_frame(_url(report_db), task="ner", samples=True)
    assert set(with_samples.task) == {"token-classification"}
    assert all(len(s) == 200 for s in with_samples[with_samples.status == "ok"].samples_ms)


def test_cli_formats(report_db: Database, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = _url(report_db)
    table = run_cli("bench", "report", "--db", url)
    assert table.code == 0, table.err
    assert "token-classification" in table.out and "text-generation" in table.out
    assert "● measured" in table.out and "○ estimated" in table.out and "reported (model card)" in table.out
    assert "<script>alert(1)</scr" in table.out  # rich prints it as text (wrapped), never as markup

    records = run_cli("bench", "report", "--db", url, "--format", "json", "--task", "ner").json()
    assert isinstance(records, list) and {r["task"] for r in records} == {"token-classification"}
    assert {r["model"] for r in records} == {"dslim/bert-base-NER", "example/small-ner", EVIL, "example/broken"}

    out = tmp_path / "report.csv"
    result = run_cli("bench", "report", "--db", url, "--format", "csv", "--out", str(out))
    assert result.code == 0 and "Wrote" in result.err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 6 and rows[0].keys() >= {"model", "latency_p50_ms", "metric_value", "reported_source"}

    md = run_cli("bench", "report", "--db", url, "--format", "md", "--task", "text-generation")
    assert md.code == 0 and md.out.startswith("# Benchmark report") and "token-classification" not in md.out


def test_cli_messages(report_db: Database, run_cli) -> None:  # type: ignore[no-untyped-def]
    url = _url(report_db)
    missing = run_cli("bench", "report", "--db", url, "--run", "99")
    assert missing.code == 1 and "Unknown benchmark run '99'" in missing.err
    empty_task = run_cli("bench", "report", "--db", url, "--task", "ner", "--run", "1", "--format", "json")
    assert empty_task.code == 0
    typo = run_cli("bench", "report", "--db", url, "--task", "nerr")
    assert typo.code == 1 and "Did you mean" in typo.err
    add_run(report_db, [])
    nothing = run_cli("bench", "report", "--db", url, "--run", "2")
    assert nothing.code == 1 and "hold no results" in nothing.err
    table_out = run_cli("bench", "report", "--db", url, "--out", "x.txt")
    assert table_out.code == 1 and "--format md" in table_out.err


def test_no_results_says_what_to_run(tmp_path: Path, mini_taxonomy: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("bench", "report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "--task", "ner")
    assert result.code == 1
    assert "No benchmark results for ner yet — run `catalog bench run --task ner" in result.err


def test_newest_result_wins_unless_runs_are_named(report_db: Database) -> None:
    add_run(report_db, [ner_result("example/small-ner", 3.0, metric=0.86, ci=(0.845, 0.875), seed=9)])
    latest = build_report(report_db, task="ner")
    small = [r for r in latest.rows if r.model == "example/small-ner"]
    assert [(r.run_id, r.latency_p50_ms) for r in small] == [(2, 3.0)]
    assert len(latest.rows) == 5  # the others still come from run 1
    named = build_report(report_db, run_ids=[1, 2])
    assert sorted((r.run_id, r.latency_p50_ms) for r in named.rows if r.model == "example/small-ner") == [
        (1, 3.21),
        (2, 3.0),
    ]
    # another machine's figure is kept apart, not replaced
    add_run(report_db, [ner_result("example/small-ner", 9.0, seed=10)], machine_id="cccc2222dddd", cpu="Other CPU")
    across = build_report(report_db, task="ner")
    assert sorted(r.latency_p50_ms for r in across.rows if r.model == "example/small-ner") == [3.0, 9.0]


def test_html_escapes_model_text_and_embeds_every_image(report_db: Database) -> None:
    page = build_report(report_db).to_html()
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()  # the report runs no script at all
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    # token-classification: accuracy scatter, latency boxes, throughput (two batch sizes), memory;
    # text-generation: latency boxes and memory (one batch size: no throughput line)
    assert len(images) == 6
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert "http://" not in page and "https://" not in page  # self-contained
    for heading in ("Hardware and software", "Provenance", "Pareto frontier"):
        assert heading in page
    assert "0.9130" not in page  # the card's figure is on another benchmark than the measured sample (issue 12)


def test_pareto_front() -> None:
    points = [(10.0, 0.90), (3.0, 0.85), (150.0, 0.5), (12.0, 0.95), (11.0, 0.80), (3.0, 0.80)]
    assert pareto_front(points) == [1, 0, 3]
    # lower-is-better metrics (perplexity): the smallest value wins
    assert pareto_front([(1.0, 30.0), (2.0, 20.0), (3.0, 25.0)], higher_better=False) == [0, 1]
    assert pareto_front([]) == []


def test_reported_figure_only_on_the_same_benchmark(report_db: Database) -> None:
    from bench.report import _same_benchmark

    add_run(report_db, [ner_result("dslim/bert-base-NER", 11.0, seq=64, metric=0.905, ci=(0.9, 0.91),
                                   eval_set="CoNLL-2003")])  # fmt: skip
    markdown = build_report(report_db).to_markdown()
    # the card's 91.3 % sits beside the figure measured on the same benchmark, on the same scale, with its source
    assert "| 0.9130 reported (model card) |" in _line_for(markdown, "dslim/bert-base-NER", "1×64")
    page = build_report(report_db).to_html()
    assert "0.9130" in page and "model card" in page
    conll = [{"id": "conll2003", "datasets": ["conll2003", "CoNLL-2003", "eriktks/conll2003"]}]
    assert _same_benchmark(conll, "eriktks/conll2003", "CoNLL-2003")  # two spellings of one benchmark
    assert not _same_benchmark(conll, "uner_en_ewt", "CoNLL-2003")  # same metric, another dataset
    assert not _same_benchmark([], "conll2003-sample", "CoNLL-2003")
