"""catalog tasks | task | architectures | families"""

from __future__ import annotations

from typing import Any

import click

from catalog.cli._common import db_url_of, listing_options, name_of, open_db, whole


def _join(values: Any) -> str:
    return ", ".join(values) if values else "—"


@click.command("tasks")
@listing_options
def tasks_command(db_url: str | None, fmt: str, lang: str) -> None:
    """List the tasks the catalog knows, with aliases (e.g. ner -> token-classification)."""
    from catalog.db.reader import reading
    from catalog.lookup import task_records
    from catalog.output import Column, render

    with reading(db_url_of(db_url)) as reader:  # a current SQLite catalog is read without SQLAlchemy
        rows = [t.to_dict() for t in task_records(reader)]
    if fmt == "json":
        for row in rows:
            row.pop("description", None)
    columns = [
        Column("Task", lambda r: r["id"], no_wrap=True),
        Column("名称" if lang == "zh" else "Name", lambda r: name_of(r, lang)),
        Column("Aliases", lambda r: _join(r["aliases"][:4]), max_width=40),
        Column("Modality", lambda r: r["modality"], optional=True),
        Column("Metrics", lambda r: _join(r["metrics"]), optional=True),
        Column("Models", lambda r: r["models"], justify="right"),
    ]
    render(rows, columns, fmt, title="任务" if lang == "zh" else "Tasks")


@click.command("task")
@click.argument("name")
@click.option("--top", default=10, show_default=True, type=whole(0, 10**6), help="How many top models to show.")
@listing_options
def task_command(name: str, top: int, db_url: str | None, fmt: str, lang: str) -> None:
    """Show one task (id or alias): description, suitable architectures and families, top models."""
    from rich.console import Console

    from catalog import queries
    from catalog.output import Column, human_count, render, render_json

    detail = queries.task_detail(open_db(db_url), name, top=top)
    if fmt == "json":
        render_json(detail.to_dict())
        return
    if fmt == "csv":
        render([m.to_dict() for m in detail.top_models], [], "csv")
        return
    task = detail.task.to_dict()
    console = Console()
    other = task["name_en"] if lang == "zh" else task["name_zh"]
    console.print(f"[bold]{task['id']}[/bold] — {name_of(task, lang)} ({other})")
    console.print(task["description"])
    console.print(
        f"Aliases: {_join(task['aliases'])}   Modality: {task['modality']}   "
        f"Metrics: {_join(task['metrics'])}   Models in catalog: {task['models']}"
    )
    console.print(
        "Suitable architectures: "
        + _join(f"{a.id} ({a.name_zh if lang == 'zh' else a.name_en})" for a in detail.architectures)
    )
    console.print("Families: " + _join(f.name for f in detail.families))
    columns = [
        Column("Model", lambda r: r["id"], no_wrap=True),  # whole; the optional columns give way to it
        Column("Family", lambda r: r["family"], optional=True, priority=2),
        Column("Params", lambda r: human_count(r["params"]), justify="right"),
        Column("License", lambda r: r["license"], optional=True, priority=1),
        Column("Downloads", lambda r: human_count(r["downloads"]), justify="right"),
    ]
    render(
        [m.to_dict() for m in detail.top_models],
        columns,
        "table",
        title="Top models",
        empty="No models for this task yet — run `catalog sync --task " + task["id"] + "`.",
    )


@click.command("architectures")
@listing_options
def architectures_command(db_url: str | None, fmt: str, lang: str) -> None:
    """List architecture kinds: how attention sees the sequence, the pre-training objective, what each suits."""
    from catalog import queries
    from catalog.output import Column, render

    rows = [a.to_dict() for a in queries.list_architectures(open_db(db_url))]
    name_rank = 0 if lang == "zh" else 1  # 0: always shown
    columns = [
        Column("Architecture", lambda r: r["id"], no_wrap=True),
        # the Chinese name stays for --lang zh; the English one gives way first on a narrow terminal
        Column(
            "名称" if lang == "zh" else "Name", lambda r: name_of(r, lang), optional=lang != "zh", priority=name_rank
        ),
        Column("Attention", lambda r: r["attention"], max_width=40),
        Column("Objective", lambda r: r["objective"], max_width=30),
        Column("Suits", lambda r: r["suits"], max_width=40),
        Column("Families", lambda r: _join(r["families"]), max_width=30, optional=True, priority=2),
    ]
    render(rows, columns, fmt, title="架构" if lang == "zh" else "Architectures")


@click.command("families")
@click.option("--architecture", "-a", help="Only families of this architecture (e.g. encoder-only).")
@listing_options
def families_command(architecture: str | None, db_url: str | None, fmt: str, lang: str) -> None:
    """List model families (BERT, GPT-2, T5, ViT, Whisper, Claude 3 ...) with architecture and origin."""
    from catalog import queries
    from catalog.output import Column, render

    rows = [f.to_dict() for f in queries.list_families(open_db(db_url), architecture=architecture)]
    columns = [
        Column("Family", lambda r: r["name"], no_wrap=True),
        Column("Id", lambda r: r["id"], optional=True, priority=3),
        Column("Architecture", lambda r: r["architecture"]),
        Column("Objective", lambda r: r["objective"], max_width=36),
        Column("Organization", lambda r: r["organization"], optional=True, priority=2),
        Column("Year", lambda r: r["year"], justify="right", optional=True, priority=1),
        Column("Weights", lambda r: "API only" if r["api_only"] else ("open" if r["open_weights"] else "closed")),
        Column("Models", lambda r: r["models"], justify="right"),
    ]
    render(rows, columns, fmt, title="模型家族" if lang == "zh" else "Families")


COMMANDS = [tasks_command, task_command, architectures_command, families_command]
