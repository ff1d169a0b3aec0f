"""catalog models | show"""

from __future__ import annotations

import click

from catalog.cli._common import LIMIT, listing_options, open_db


@click.command("models")
@click.option("--task", "-t", help="Task id or alias (e.g. ner).")
@click.option("--family", "-f", help="Family id or name (e.g. bert, GPT-2).")
@click.option("--license", "license_", metavar="LICENSE", help="License id (e.g. apache-2.0, mit).")
@click.option("--language", help="ISO language code the model is tagged with (e.g. en, zh).")
@click.option("--limit", "-n", default=50, show_default=True, type=LIMIT, help="How many; 0 lists all.")
@listing_options
def models_command(
    task: str | None,
    family: str | None,
    license_: str | None,
    language: str | None,
    limit: int,
    db_url: str | None,
    fmt: str,
    lang: str,
) -> None:
    """List models in the catalog, most downloaded first."""
    from catalog import queries
    from catalog.output import Column, human_count, render

    records = queries.list_models(
        open_db(db_url), task=task, family=family, license=license_, language=language, limit=limit
    )
    rows = [r.to_dict() for r in records]
    columns = [
        Column("Model", lambda r: r["id"], no_wrap=True),  # whole; the optional columns give way to it
        Column("Task", lambda r: r["pipeline_tag"], optional=True),
        Column("Family", lambda r: r["family"], optional=True),
        Column("Architecture", lambda r: r["architecture"], optional=True),
        Column("Params", lambda r: human_count(r["params"]), justify="right"),
        Column("License", lambda r: r["license"], optional=True, priority=1),
        Column(
            "Languages",
            lambda r: ", ".join(r["languages"][:4]) + (" …" if len(r["languages"]) > 4 else ""),
            optional=True,
        ),
        Column("Downloads", lambda r: human_count(r["downloads"]), justify="right"),
    ]
    render(rows, columns, fmt, title="Models", empty="No models match. Loosen the filters or run `catalog sync`.")


@click.command("show")
@click.argument("model_id")
@listing_options
def show_command(model_id: str, db_url: str | None, fmt: str, lang: str) -> None:
    """Show everything the catalog knows about one model, with where each fact comes from."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from catalog import queries
    from catalog.evidence.api import model_evidence
    from catalog.output import human_count, render

    db = open_db(db_url)
    record = queries.get_model(db, model_id)
    evidence = model_evidence(db, record.id)
    data = record.to_dict() | {"evidence": [row.to_dict() for row in evidence]}
    if fmt != "table":
        render([data], [], fmt)
        return
    table = Table(title=record.id, show_header=True, header_style="bold")
    table.add_column("Field")
    table.add_column("Value", overflow="fold")
    table.add_column("Source", overflow="fold", style="dim")
    prov = record.provenance
    table.add_row("task", record.pipeline_tag or "—", "Hub pipeline tag")
    table.add_row("also serves", ", ".join(record.tasks[1:]) or "—", "catalog.yaml" if record.curated else "")
    table.add_row("family", record.family or "—", prov.get("family", ""))
    table.add_row("architecture", record.architecture or "—", prov.get("family", ""))
    table.add_row("parameters", human_count(record.params) if record.params else "—", prov.get("params", ""))
    table.add_row("license", record.license or "—", prov.get("license", ""))
    table.add_row("languages", ", ".join(record.languages) or "—", prov.get("languages", ""))
    table.add_row("downloads (30 days)", human_count(record.downloads), prov.get("downloads", ""))
    table.add_row("library", record.library or "—", "")
    table.add_row("access", "API only" if record.api_only else ("gated" if record.gated else "open"), "")
    if record.base_model:
        table.add_row("fine-tuned from", record.base_model, prov.get("base_model", "catalog.yaml"))
    # Quality evidence (catalog.yaml's curated figures included), one row per result: metric, benchmark data and
    # protocol; the source with its kind, date and whether the figure was verified.
    for row in evidence:
        where = row.dataset + (f":{row.dataset_config}" if row.dataset_config else "")
        where += f" {row.split}" if row.split else ""
        protocol = ", ".join(
            p for p in (f"{row.n_shot}-shot" if row.n_shot is not None else "", row.protocol or "") if p
        )
        checked = "verified" if row.verified else ("self-reported" if row.self_reported else "not verified")
        date = f", {row.source_date:%Y-%m-%d}" if row.source_date else ""
        kind = "measured" if row.source_kind == "measured" else "reported"
        origin = f"{row.source_name} ({row.details['source']})" if row.details.get("source") else row.source_name
        table.add_row(  # cells are data, never rich markup ("[leaderboard]")
            escape(f"evidence {row.metric}"),
            escape(f"{row.value:.4g} on {where}" + (f" ({protocol})" if protocol else "")),
            escape(f"{kind}: {origin} [{row.source_kind}]{date}, {checked}"),
        )
    if not evidence:
        table.add_row("evidence", "—", "none yet: `catalog evidence import PATH` adds published results")
    Console().print(table)


COMMANDS = [models_command, show_command]
