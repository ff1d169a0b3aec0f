"""catalog sync"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from catalog.cli._common import db_option, format_choice, open_db, whole


class RichReporter:
    """Progress bar per listing: pages, models stored, items skipped, retries."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pages {task.fields[pages]}  skipped {task.fields[skipped]}  retries {task.fields[retries]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.retries = 0

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def listing_started(self, label: str, total: int | None) -> None:
        self.tasks[label] = self.progress.add_task(label, total=total, pages=0, skipped=0, retries=self.retries)

    def page_done(self, label: str, models: int, skipped: int, pages: int) -> None:
        self.progress.update(self.tasks[label], completed=models, pages=pages, skipped=skipped, retries=self.retries)

    def retry(self, reason: str, delay_s: float) -> None:
        self.retries += 1
        for task in self.tasks.values():
            self.progress.update(task, retries=self.retries)
        self.progress.console.print(f"[dim]retrying in {delay_s:.1f} s: {reason}[/dim]")

    def listing_finished(self, label: str) -> None:
        task = self.tasks[label]
        current = self.progress.tasks[task].completed if task < len(self.progress.tasks) else 0
        self.progress.update(task, total=current)


def _parse_since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD.", param_hint="--since") from exc


@click.command("sync")
@click.option("--task", "-t", "tasks", multiple=True, help="Task id or alias to sync (repeatable); default: all tasks.")
@click.option("--limit", "-n", type=whole(1, 10**9), help="At most this many models per task.")
@click.option(
    "--sort",
    type=click.Choice(["downloads", "likes", "trending", "created", "modified"]),
    default="downloads",
    show_default=True,
    help="Order of the Hub listing (the first --limit models in this order are synced).",
)
@click.option("--since", help="Only models modified since this date (YYYY-MM-DD); stops paging at older ones.")
@click.option("--author", help="Only models of this author or organisation.")
@click.option("--search", help="Only models whose id contains this text.")
@click.option(
    "--from-snapshot",
    "snapshot",
    type=click.Path(path_type=Path),
    help="Import a snapshot file (JSON Lines or CSV) instead of calling the Hub.",
)
@click.option(
    "--export-snapshot",
    "export",
    type=click.Path(path_type=Path),
    help="Write the catalog's Hub models as JSON Lines for an offline machine.",
)
@click.option("--status", is_flag=True, help="Show per task how many models there are and how fresh they are.")
@format_choice("table", "json")
@db_option
def sync_command(
    tasks: tuple[str, ...],
    limit: int | None,
    sort: str,
    since: str | None,
    author: str | None,
    search: str | None,
    snapshot: Path | None,
    export: Path | None,
    status: bool,
    fmt: str,
    db_url: str | None,
) -> None:
    """Fill the catalog from the Hugging Face Hub (HF_ENDPOINT, HF_TOKEN honoured), or from a snapshot file.

    Each page is saved as it arrives: an interrupted sync keeps what it fetched and the same command continues
    where it stopped.
    """
    from catalog.hub import sync as library
    from catalog.output import Column, render, render_json

    database = open_db(db_url)
    if status:
        rows = [s.to_dict() for s in library.sync_status(database)]
        columns = [
            Column("Task", lambda r: r["task"]),
            Column("Models", lambda r: r["models"], justify="right"),
            Column("From the Hub", lambda r: r["synced"], justify="right"),
            Column("Newest sync", lambda r: _stamp(r["newest_sync"])),
            Column("Oldest sync", lambda r: _stamp(r["oldest_sync"])),
            Column(
                "Last full listing",
                lambda r: _stamp(r["last_completed"]) + (" (resumable)" if r["in_progress"] else ""),
            ),
        ]
        render(rows, columns, fmt, title="Sync status", empty="No models yet — run `catalog sync`.")
        return
    if export is not None:
        count = library.export_snapshot(database, export)
        if fmt == "json":
            render_json({"exported": count, "path": str(export)})
        else:
            click.echo(f"Wrote {count} models to {export}.")
        return
    if fmt == "json":
        report = _run(library, database, tasks, limit, sort, since, author, search, snapshot, None)
        render_json(report.to_dict())
        return
    with RichReporter() as reporter:
        report = _run(library, database, tasks, limit, sort, since, author, search, snapshot, reporter)
    _summary(report)


def _run(library: Any, database: Any, tasks: Any, limit: Any, sort: str, since: Any, author: Any, search: Any,
         snapshot: Path | None, reporter: Any) -> Any:  # fmt: skip
    if snapshot is not None:
        if tasks or limit or since or author or search:
            raise click.UsageError(
                "--from-snapshot imports the whole file; it takes no --task/--limit/--since/--author/--search."
            )
        return library.import_snapshot(database, snapshot, reporter=reporter)
    return library.sync_from_hub(
        database, tasks=tasks, limit=limit, sort=sort, since=_parse_since(since), author=author, search=search,
        reporter=reporter,
    )  # fmt: skip


def _stamp(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _summary(report: Any) -> None:
    total = report.totals()
    click.echo(
        f"Synced {total.stored} models ({total.inserted} new, {total.updated} updated, {total.unchanged} unchanged) "
        f"in {total.pages} pages; skipped {total.skipped} malformed items; {report.retries} retries."
    )
    if total.skip_reasons:
        click.echo("Skipped: " + ", ".join(f"{reason} ({n})" for reason, n in sorted(total.skip_reasons.items())))
    resumed = [item for item in report.listings if item.resumed]
    if resumed:
        earlier = sum(item.resumed_after for item in resumed)
        click.echo(f"Continued {len(resumed)} interrupted listing(s) where they stopped ({earlier} models saved then).")
    if total.stored:
        click.echo(
            f"Architecture kind derived for {total.architecture_derived} of {total.stored} models "
            f"({100 * total.coverage():.1f}%); for models of the catalog's tasks {report.taxonomy_derived} of "
            f"{report.taxonomy_models} ({100 * report.taxonomy_derived / max(report.taxonomy_models, 1):.1f}%)."
        )


COMMANDS = [sync_command]
