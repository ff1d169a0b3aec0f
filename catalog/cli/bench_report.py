"""catalog bench report | compare. The harness, pandas, matplotlib and scipy are imported inside the callbacks
only, so `import catalog.cli` stays light."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from catalog.cli._common import RUN_ID, Number, db_option, open_db

REGRESSION_EXIT = 3


def _write(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    click.echo(f"Wrote {out}", err=True)


def _report_columns(with_status: bool, with_device: bool, with_estimate: bool = False) -> list[Any]:
    """The terminal table keeps the headline figures; md, html, json and csv carry every column."""
    from bench.report import MARKERS, fmt_mb, fmt_metric, fmt_metric_ci, fmt_ms, fmt_rate
    from catalog.output import Column

    def latency(attr: str) -> Any:
        return lambda r: fmt_ms(getattr(r["row"], attr)) if r["row"].status == "ok" else "—"

    def status(r: dict[str, Any]) -> str:
        row = r["row"]
        error = row.error or ""
        return "ok" if row.status == "ok" else f"{row.status}: {error[:60]}{' …' if len(error) > 60 else ''}"

    def shape(r: dict[str, Any]) -> str:
        row = r["row"]
        return f"{row.shape} {row.device} {row.dtype}" if with_device else row.shape

    def accuracy(r: dict[str, Any]) -> str:
        row = r["row"]
        return (
            "—"
            if row.metric_value is None
            else f"{row.primary_metric} {fmt_metric_ci(row.metric_value, row.metric_ci)}"
        )

    def reported(r: dict[str, Any]) -> str:
        figure = r["row"].reported
        return "—" if figure is None else f"{MARKERS['reported']} {fmt_metric(figure.value)} ({figure.source})"

    columns = [
        Column("Model", lambda r: r["row"].model + (" ⚠" if r["row"].unstable else ""), min_width=20, max_width=32),
        Column("Batch×seq", shape, justify="right", no_wrap=True),
        Column("Status", status, max_width=18),
        Column("p50 ms", latency("latency_p50_ms"), justify="right", no_wrap=True),
        Column("p99 ms", latency("latency_p99_ms"), justify="right", no_wrap=True),
        Column("Est. (error)", lambda r: r["row"].estimate.text() if r["row"].estimate else "—", max_width=22),
        Column("items/s", lambda r: fmt_rate(r["row"].throughput_items_s), justify="right", no_wrap=True),
        Column("RSS MiB", lambda r: fmt_mb(r["row"].peak_rss_infer_mb), justify="right", no_wrap=True),
        Column("Metric [95% CI]", accuracy, min_width=18, max_width=24),
        Column("Reported", reported, max_width=18, optional=True),
        Column("Source", lambda r: f"{MARKERS[r['row'].provenance]} {r['row'].provenance}", no_wrap=True),
        Column("Run", lambda r: r["row"].run_id, justify="right", optional=True),
    ]
    return [
        c for c in columns if (with_status or c.header != "Status") and (with_estimate or c.header != "Est. (error)")
    ]


def _render_tables(report: Any) -> None:
    from bench.report import ESTIMATED, MARKERS, MEASURED, REPORTED
    from catalog.output import render_table

    for task in report.tasks:
        rows = report.rows_for(task)
        metric, picked, front = report.accuracy_points(task)
        caption = (
            f"{MARKERS[MEASURED]} measured here · {MARKERS[ESTIMATED]} measured here, random weights (built from "
            f"the config) · {MARKERS[REPORTED]} reported (model card) · latency ms per batch"
        )
        if any(r.estimate for r in rows):
            caption += " · Est. (error): the cost model's p50 and RSS before the run (basis in json/html)"
        if picked:
            caption += f" · Pareto frontier ({metric} vs p50 at {picked[0].shape}): " + ", ".join(
                picked[i].model for i in front
            )
        devices = {f"{r.device} {r.dtype}" for r in rows}
        if len(devices) == 1:
            caption += f" · {next(iter(devices))}"
        columns = _report_columns(
            with_status=any(r.status != "ok" for r in rows),
            with_device=len(devices) > 1,
            with_estimate=any(r.estimate for r in rows),
        )
        render_table([{"row": r} for r in rows], columns, title=task or "task not recorded", caption=caption)


@click.command("report")
@click.option("--task", "-t", help="Only this task (id or alias).")
@click.option(
    "--run",
    "run_ids",
    type=RUN_ID,
    multiple=True,
    metavar="RUN_ID",
    help="Only these runs (repeatable); default: the newest result per machine, model and shape.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "md", "html", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for the terminal; md or html (with plots) for people; json or csv flat records for scripts.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of standard output (required for html on a terminal).",
)
@db_option
def report_command(task: str | None, run_ids: tuple[int, ...], fmt: str, out: Path | None, db_url: str | None) -> None:
    """Report benchmark results: latency percentiles, throughput, memory and accuracy with its 95% CI, each
    figure marked measured, estimated or reported; HTML adds plots (accuracy vs latency with the Pareto
    frontier, latency distributions, throughput against batch size, memory)."""
    from bench.report import build_report
    from catalog.errors import UsageError

    if fmt == "table" and out is not None:
        raise UsageError("--out writes md, html, json or csv; add --format md (or html, json, csv).")
    if fmt == "html" and out is None and sys.stdout.isatty():
        raise UsageError("An HTML report goes to a file: add --out report.html.")
    report = build_report(open_db(db_url), task=task, run_ids=run_ids)
    if fmt == "table":
        _render_tables(report)
    elif fmt == "md":
        _write(report.to_markdown(), out)
    elif fmt == "html":
        _write(report.to_html(), out)
    else:
        import io

        from catalog.output import render_csv, render_json

        buffer = io.StringIO()
        (render_json if fmt == "json" else render_csv)(report.to_records(), buffer)
        _write(buffer.getvalue(), out)


def _compare_columns(rows: list[dict[str, Any]]) -> list[Any]:
    """Task and metric get a column only when they vary (otherwise the title names them): the table must fit."""
    from bench.report import fmt_metric, fmt_metric_ci, fmt_ms
    from catalog.output import Column

    def delta(r: dict[str, Any]) -> str:
        return "—" if r["latency_delta"] is None else f"{r['latency_delta']:+.1%}"

    def p_value(r: dict[str, Any]) -> str:
        return "—" if r["p_value"] is None else f"{r['p_value']:.2g}"

    def verdict(value: str) -> str:
        return "▲ REGRESSION" if value == "regression" else value

    def metric_delta(r: dict[str, Any]) -> str:
        return "—" if r["metric_delta"] is None else f"{r['metric_delta']:+.4f}"

    columns = [
        Column("Model", lambda r: r["model"], min_width=16, max_width=44),
        Column("Task", lambda r: r["task"] or "—", optional=True, max_width=20),
        Column("Batch×seq", lambda r: f"{r['batch_size']}×{r['seq_len']}", justify="right"),
        Column("p50 A ms", lambda r: fmt_ms(r["median_a_ms"]), justify="right"),
        Column("p50 B ms", lambda r: fmt_ms(r["median_b_ms"]), justify="right"),
        Column("Δ", delta, justify="right"),
        Column("p (MWU)", p_value, justify="right"),
        Column("Latency", lambda r: verdict(r["latency_verdict"])),
        Column("Metric", lambda r: r["metric"] or "—", optional=True),
        Column("A [95% CI]", lambda r: fmt_metric_ci(r["metric_a"], r["metric_a_ci95"]), justify="right"),
        Column("B", lambda r: fmt_metric(r["metric_b"]), justify="right"),
        Column("Δ acc", metric_delta, justify="right", optional=True),
        Column("Accuracy", lambda r: verdict(r["accuracy_verdict"])),
        Column("Notes", lambda r: "; ".join(r["notes"]) or "", optional=True, max_width=40),
    ]
    tasks = {r["task"] for r in rows}
    metrics = {r["metric"] for r in rows if r["metric"]}
    return [c for c in columns if (c.header != "Task" or len(tasks) > 1) and (c.header != "Metric" or len(metrics) > 1)]


def _compare_title(rows: list[dict[str, Any]], run_a: int, run_b: int) -> str:
    title = f"Run {run_b} (B) against run {run_a} (A)"
    tasks = {r["task"] for r in rows}
    metrics = {r["metric"] for r in rows if r["metric"]}
    if len(tasks) == 1 and None not in tasks:
        title += f" · {next(iter(tasks))}"
    if len(metrics) == 1:
        title += f" · metric {next(iter(metrics))}"
    return title


@click.command("compare")
@click.argument("run_a", type=RUN_ID)
@click.argument("run_b", type=RUN_ID)
@click.option(
    "--threshold",
    type=Number(minimum=0, maximum=100),
    default=0.05,
    show_default=True,
    help="Latency regression: median slower by more than this fraction (0.05 = 5%) and p < --alpha.",
)
@click.option(
    "--alpha",
    type=Number(above=0, maximum=1),
    default=0.01,
    show_default=True,
    help="Significance level of the Mann-Whitney U test on the raw latency samples.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help=f"Exit with status {REGRESSION_EXIT} when any regression is flagged (default: always 0).",
)
@db_option
def compare_command(
    run_a: int, run_b: int, threshold: float, alpha: float, fmt: str, fail_on_regression: bool, db_url: str | None
) -> None:
    """Compare RUN_B (new) against RUN_A (old) per model and shape: latency delta with a Mann-Whitney U test on
    the raw samples, accuracy against RUN_A's 95% CI, regressions flagged, both machines' fingerprints side by
    side. Exit status 0, or 3 with --fail-on-regression when something regressed."""
    from bench.compare import compare_runs
    from catalog.output import Column, render_json, render_table

    comparison = compare_runs(open_db(db_url), run_a, run_b, threshold=threshold, alpha=alpha)
    data = comparison.to_dict()
    if fmt == "json":
        render_json(data)
    else:
        machines = "same machine" if comparison.same_machine else "different machines"
        render_table(
            data["fingerprints"],
            [
                Column("", lambda r: ("≠ " if r["differs"] else "") + r["fact"]),
                Column(f"run {run_a} (A)", lambda r: "—" if r["run_a"] is None else r["run_a"], max_width=50),
                Column(f"run {run_b} (B)", lambda r: "—" if r["run_b"] is None else r["run_b"], max_width=50),
            ],
            title=f"Fingerprints ({machines}; ≠ marks a difference)",
        )
        render_table(
            data["rows"],
            _compare_columns(data["rows"]),
            title=_compare_title(data["rows"], run_a, run_b),
            caption=(
                f"regression: median slower by > {threshold:.0%} and Mann-Whitney U p < {alpha:g}, or "
                "accuracy below A's 95% CI, or a result that now fails"
            ),
            empty="The two runs share no model and shape.",
        )
        count = len(comparison.regressions)
        click.echo(f"{count} regression(s)." if count else "No regressions.")
    if fail_on_regression and comparison.regressions:
        sys.exit(REGRESSION_EXIT)


COMMANDS = [report_command, compare_command]
