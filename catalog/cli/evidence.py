"""catalog evidence import | sources | list | show"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from catalog.cli._common import LIMIT, db_option, format_choice, open_db

_FORMATS = (
    "mteb",
    "open-llm-leaderboard",
    "open-asr-leaderboard",
    "spacy-meta",
    "tner",
    "lm-eval",
    "hub-eval-results",
    "model-card",
    "generic",
)
_KINDS = ("model-card", "leaderboard", "paper", "user", "hub", "measured")


@click.group("evidence")
def evidence_group() -> None:
    """Quality evidence: published and measured results that rank models for `--profile accurate`."""


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[Any], Callable[[int], None] | None]]:
    """A factory the importer calls with its parsed source: a rich bar on a terminal, nothing otherwise."""
    if not enabled:
        yield lambda parsed: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as progress:

        def factory(parsed: Any) -> Callable[[int], None] | None:
            bar = progress.add_task(f"reading {parsed.progress_unit}", total=parsed.total)
            return lambda done: progress.update(bar, completed=done)

        yield factory


@evidence_group.command("import")
@click.argument("location", metavar="PATH_OR_URL")
@click.option(
    "--source",
    "kind",
    type=click.Choice(_KINDS),
    help="Source kind to record (default: the format's own: leaderboard, model-card, user ...).",
)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), help="Upstream format (default: detected).")
@click.option("--key", help="Source key (default: format and location); a re-import under a key replaces its rows.")
@click.option("--model", "model", help="The model ORG/NAME of an .eval_results file whose path does not name it.")
@click.option(
    "--published",
    metavar="DATE",
    help="When the source's results are from (ISO date, e.g. the upstream commit's date), for rows whose source "
    "gives no date of its own; shown with every figure.",
)
@click.option(
    "--output",
    "out",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="The import report: table for people, json for scripts.",
)
@db_option
def import_command(
    location: str,
    kind: str | None,
    fmt: str | None,
    key: str | None,
    model: str | None,
    published: str | None,
    out: str,
    db_url: str | None,
) -> None:
    """Import published results from PATH_OR_URL (a file, a directory, a URL or hf://datasets/REPO[/FILE]).

    Re-importing the same source replaces its rows; a malformed or truncated file changes nothing."""
    from catalog.evidence.api import import_evidence, parse_published
    from catalog.output import print_message, render_json

    when = parse_published(published) if published else None
    db = open_db(db_url)
    with _progress_bar(out == "table" and sys.stderr.isatty()) as factory:
        report = import_evidence(
            db, location, fmt=fmt, kind=kind, key=key, model=model, published=when, progress=factory
        )
    if out == "json":
        render_json(report.to_dict())
        return
    skipped = sum(report.skipped.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in report.skipped.most_common())
    from rich.markup import escape

    print_message(  # names and keys are data, never markup
        escape(
            f"Imported {report.rows_imported} of {report.rows_read} values from {report.source.name} "
            f"({report.source.format}, {report.source.kind}) as source {report.source.key!r}; "
            f"{report.facts} reported facts; skipped {skipped}"
            + (f" ({reasons})" if reasons else "")
            + "."
            + (f" Replaced {report.replaced} rows of the previous import." if report.replaced else "")
        )
    )


@evidence_group.command("sources")
@format_choice("table", "json", "csv")
@db_option
def sources_command(fmt: str, db_url: str | None) -> None:
    """List imported evidence sources with what each import read, kept and skipped."""
    from catalog.evidence.api import list_sources
    from catalog.output import Column, render

    rows = list_sources(open_db(db_url))
    if fmt == "table" and rows:
        from rich.console import Console

        print_sources(rows, Console())
        return
    columns = [
        Column("Source", lambda r: r["key"], min_width=20),
        Column("Kind", lambda r: r["kind"]),
        Column("Name", lambda r: r["name"]),
        Column("Format", lambda r: r["format"], optional=True),
        Column("Read", lambda r: r["rows_read"], justify="right"),
        Column("Imported", lambda r: r["rows_imported"], justify="right"),
        Column("Skipped", lambda r: ", ".join(f"{k} {v}" for k, v in (r["skipped"] or {}).items()), optional=True),
        Column("Imported at", lambda r: r["imported_at"], optional=True),
    ]
    render(rows, columns, fmt, title="Evidence sources", empty="No evidence yet: run `catalog evidence import PATH`.")


def print_sources(rows: list[dict[str, Any]], console: Any) -> None:
    """The sources table fitted to the console (columns chosen by width, words never cut), numbered; the long
    source keys (format and location, used by --key) follow it, one per line, never broken into fragments."""
    from rich.markup import escape

    from catalog.output import Column, fit_table

    numbered = [{"n": i, **row} for i, row in enumerate(rows, start=1)]
    columns = [
        Column("#", lambda r: r["n"], justify="right", no_wrap=True),
        Column("Name", lambda r: r["name"], no_wrap=True),
        Column("Kind", lambda r: r["kind"], no_wrap=True),
        Column("Read", lambda r: r["rows_read"], justify="right", no_wrap=True),
        Column("Imported", lambda r: r["rows_imported"], justify="right", no_wrap=True),
        Column("Skipped", lambda r: ", ".join(f"{k} {v}" for k, v in (r["skipped"] or {}).items()) or "—",
               max_width=40, priority=1),
        Column("Format", lambda r: r["format"], no_wrap=True, priority=2),
        Column("Imported at", lambda r: (r["imported_at"] or "—").replace("T", " "), priority=3),
    ]  # fmt: skip
    fitted = fit_table(console, numbered, columns, title="Evidence sources")
    if fitted is None:
        for row in numbered:
            console.print(escape(f"{row['n']}. {row['name']} ({row['kind']}): {row['rows_imported']} of "
                                 f"{row['rows_read']} imported"))  # fmt: skip
    else:
        console.print(fitted[0])
    console.print("Source keys (--key):")
    for row in numbered:
        console.print(escape(f"{row['n']:>3}. {row['key']}"), soft_wrap=True)


def _value(row: dict[str, Any]) -> str:
    return f"{row['value']:.4g}"


def _dataset(row: dict[str, Any]) -> str:
    return str(row["dataset"]) + (f":{row['dataset_config']}" if row["dataset_config"] else "")


def _checked(row: dict[str, Any]) -> str:
    return "verified" if row["verified"] else ("self" if row["self_reported"] else "—")


def _evidence_columns() -> list[Any]:
    """The evidence table's columns: model, dataset, metric and value always, whole; the others by priority while
    they fit (output.render_table)."""
    from catalog.output import Column

    return [
        Column("Model", lambda r: r["model_id"], no_wrap=True),
        Column("Dataset", _dataset, no_wrap=True),
        Column("Metric", lambda r: r["metric"], no_wrap=True),
        Column("Value", _value, justify="right", no_wrap=True),
        Column("Kind", lambda r: r["source_kind"], no_wrap=True, priority=1),
        Column("Split", lambda r: r["split"] or "—", no_wrap=True, priority=2),
        Column("Checked", _checked, no_wrap=True, priority=3),
        Column("Date", lambda r: (r["source_date"] or "")[:10] or "—", no_wrap=True, priority=4),
        Column("Shots", lambda r: "—" if r["n_shot"] is None else r["n_shot"], no_wrap=True, priority=5),
        Column("Task", lambda r: r["task_id"] or "—", no_wrap=True, priority=6),
        Column("Source", lambda r: r["source_name"], priority=7),
    ]


@evidence_group.command("list")
@click.option("--model", "-m", help="Only this model id.")
@click.option("--task", "-t", help="Only evidence bearing on this task (id or alias).")
@click.option("--benchmark", "-b", help="Only rows on this benchmark id (see the task's benchmarks).")
@click.option("--limit", "-n", default=100, show_default=True, type=LIMIT, help="How many; 0 lists all.")
@format_choice("table", "json", "csv")
@db_option
def list_command(
    model: str | None, task: str | None, benchmark: str | None, limit: int, fmt: str, db_url: str | None
) -> None:
    """List evidence rows, filtered by model, task and benchmark."""
    from catalog.evidence.api import list_evidence
    from catalog.output import render

    rows = [
        r.to_dict() for r in list_evidence(open_db(db_url), model=model, task=task, benchmark=benchmark, limit=limit)
    ]
    render(rows, _evidence_columns(), fmt, title="Evidence", empty="No evidence matches. Import some with "
           "`catalog evidence import PATH`.")  # fmt: skip


@evidence_group.command("show")
@click.argument("model_id")
@format_choice("table", "json", "csv")
@db_option
def show_command(model_id: str, fmt: str, db_url: str | None) -> None:
    """Every evidence row for one model, with its source, date and whether it was verified."""
    from catalog.evidence.api import model_evidence
    from catalog.output import render

    rows = [r.to_dict() for r in model_evidence(open_db(db_url), model_id)]
    render(rows, _evidence_columns(), fmt, title=f"Evidence for {model_id}",
           empty=f"No evidence for {model_id}. Import some with `catalog evidence import PATH`.")  # fmt: skip


COMMANDS = [evidence_group]
