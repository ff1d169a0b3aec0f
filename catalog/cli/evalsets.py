"""catalog bench evalsets: the registered evaluation sets, and whether each is available on this machine."""

from __future__ import annotations

import click

from catalog.evaltasks import EVALSET_TASKS


@click.command("evalsets")
@click.option("--task", "-t", help="Only sets for this task (pipeline tag or alias, e.g. ner, qa).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people, json or csv for scripts.",
)
def evalsets_command(task: str | None, fmt: str) -> None:
    """List the evaluation sets: task, language, size, license, and where their files are found here.

    Files are looked up in $CATALOG_EVAL_DIR, then ../shared/evalsets next to the repository, then the user
    cache; sets with an upstream URL are downloaded into the cache on first use on a connected machine.
    """
    from bench import evalsets
    from catalog.output import Column, render

    rows = evalsets.listing(_resolve_task(task))
    columns = [
        Column("Set", lambda r: r["name"], min_width=16),
        Column("Aliases", lambda r: ", ".join(r["aliases"]), optional=True),
        Column("Task", lambda r: r["task"], no_wrap=True),
        Column("Also for", lambda r: ", ".join(r["also_tasks"]), optional=True),
        Column("Lang", lambda r: r["language"]),
        Column("Examples", lambda r: r["n_examples"], justify="right"),
        Column("License", lambda r: r["license"]),
        Column("Here", lambda r: r["path"] if r["available"] else r["where"], optional=True),
    ]
    available = sum(1 for r in rows if r["available"])
    render(
        rows,
        columns,
        fmt,
        title="Evaluation sets",
        caption=f"{available} of {len(rows)} available here. Set CATALOG_EVAL_DIR to add a directory of sets.",
        empty=f"No evaluation set for {task}. Run `catalog bench evalsets` to see them all.",
    )


def _resolve_task(task: str | None) -> str | None:
    """Accept the taxonomy's aliases (ner -> token-classification) without requiring a database."""
    if task is None or task in EVALSET_TASKS:
        return task
    from catalog.errors import CatalogError

    try:
        from catalog.taxonomy import load_taxonomy

        aliases = load_taxonomy().alias_map()
    except CatalogError:  # an unreadable taxonomy must not hide the evaluation sets
        aliases = {}
    resolved = aliases.get(task) or aliases.get(task.lower())
    if resolved in EVALSET_TASKS:
        return resolved
    from catalog.errors import UnknownTaskError

    raise UnknownTaskError(task, [*EVALSET_TASKS, *(a for a, t in aliases.items() if t in EVALSET_TASKS)])


COMMANDS = [evalsets_command]
