"""`catalog bench report` shows the cost model's estimate recorded with a result next to the measurement: the
estimated p50 and RSS, their error against what was measured and the basis, in table, md, html, json and csv."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from bench.report import EstimateFigure, build_report
from catalog.db import open_database
from catalog.db.engine import Database
from tests.report.conftest import EVIL, add_run, ner_result

ESTIMATE = {"terms": {"kind": "encoder"}, "latency_ms": 15.0, "prefill_ms": None, "decode_ms_per_token": None,
            "peak_rss_mb": 480.0, "fit_cases": 7, "calibrated": True}  # fmt: skip


@pytest.fixture
def estimate_db(tmp_path: Path, mini_taxonomy: Path) -> Database:
    db = open_database(f"sqlite:///{tmp_path / 'report.db'}")
    add_run(
        db,
        [
            ner_result("dslim/bert-base-NER", 12.0, details={"estimate": ESTIMATE}),  # 25% over, RSS 6.25% under
            ner_result("example/small-ner", 5.0),  # stored before the cost model: no estimate
            ner_result(EVIL, 8.0, details={"estimate": ESTIMATE | {"fit_cases": 0, "calibrated": False}}),
        ],
    )
    return db


def test_estimate_figure_from_details() -> None:
    figure = EstimateFigure.from_details(ESTIMATE, 12.0, 512.0)
    assert figure is not None
    assert figure.latency_error == pytest.approx(0.25) and figure.rss_error == pytest.approx(-0.0625)
    assert figure.text() == "15.00 ms (+25%) · 480 MiB (-6%)"
    assert "fit on 7 other runs here" in figure.basis and "calibrated peaks" in figure.basis
    assert EstimateFigure.from_details(None, 12.0, 512.0) is None
    assert EstimateFigure.from_details({"latency_ms": float("nan")}, 12.0, None) is None
    unmeasured = EstimateFigure.from_details({"latency_ms": 3.0}, None, None)
    assert unmeasured is not None and unmeasured.latency_error is None and "(—)" in unmeasured.text()


def test_json_and_csv_records_carry_the_estimate(estimate_db: Database, run_cli) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("bench", "report", "--db", estimate_db.url, "--format", "json")
    assert done.code == 0, done.err
    rows = {row["model"]: row for row in json.loads(done.out)}
    bert = rows["dslim/bert-base-NER"]
    assert bert["estimated_p50_ms"] == 15.0 and bert["estimate_p50_error"] == pytest.approx(0.25)
    assert bert["estimated_peak_rss_mb"] == 480.0 and bert["estimate_rss_error"] == pytest.approx(-0.0625)
    assert "never this model and shape" in bert["estimate_basis"]
    assert rows["example/small-ner"]["estimated_p50_ms"] is None and rows["example/small-ner"]["estimate_basis"] is None
    assert "priors" in rows[EVIL]["estimate_basis"] and "not calibrated" in rows[EVIL]["estimate_basis"]
    table = run_cli("bench", "report", "--db", estimate_db.url, "--format", "csv")
    records = {r["model"]: r for r in csv.DictReader(io.StringIO(table.out))}
    assert float(records["dslim/bert-base-NER"]["estimated_p50_ms"]) == 15.0


def test_table_markdown_and_html_show_estimate_and_error(estimate_db: Database, run_cli) -> None:  # type: ignore[no-untyped-def]
    table = run_cli("bench", "report", "--db", estimate_db.url)
    assert table.code == 0, table.err
    text = " ".join(table.out.split())
    assert "Est. (error)" in text and "+25%" in text and "before the run" in text
    report = build_report(estimate_db)
    markdown = report.to_markdown()
    line = next(x for x in markdown.splitlines() if x.startswith("| dslim/bert-base-NER "))
    assert "| 15.00 ms (+25%) · 480 MiB (-6%) |" in line
    small = next(x for x in markdown.splitlines() if x.startswith("| example/small-ner "))
    assert small.count("|") == line.count("|")  # same columns, the estimate cell says —
    page = report.to_html()
    assert "Estimated (error)" in page and "15.00 ms (+25%)" in page
    assert "fit on 7 other runs here" in page  # the basis, as the cell's title and in the provenance table
    assert "<script" not in page.lower()  # the model named like a script stays escaped
