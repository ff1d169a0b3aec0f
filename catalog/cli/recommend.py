"""catalog recommend"""

from __future__ import annotations

import click

from catalog.cli._common import listing_options, open_db


@click.command("recommend")
@click.option("--task", "-t", required=True, help="Task id or alias (e.g. ner, sentiment, asr).")
@click.option("--limit", "-n", default=10, show_default=True, type=int, help="How many; 0 shows all.")
@click.option("--include-api", is_flag=True, help="Also rank API-only models (Claude 3, Gemini).")
@click.option("--include-gated", is_flag=True, help="Also rank gated models (licence acceptance needed).")
@listing_options
def recommend_command(
    task: str, limit: int, include_api: bool, include_gated: bool, db_url: str | None, fmt: str, lang: str
) -> None:
    """Rank the models for a task, with the reasons for each rank."""
    from catalog.output import Column, human_count, render
    from catalog.recommend import recommend

    result = recommend(task, limit=limit, include_api=include_api, include_gated=include_gated, db=open_db(db_url))
    rows = result.to_list()
    columns = [
        Column("#", lambda r: r["rank"], justify="right"),
        Column("Model", lambda r: r["id"], min_width=24),
        Column("Family", lambda r: r["family"], optional=True),
        Column("Architecture", lambda r: r["architecture"], optional=True),
        Column("Params", lambda r: human_count(r["params"]), justify="right"),
        Column("License", lambda r: r["license"]),
        Column(
            "Languages",
            lambda r: ", ".join(r["languages"][:3]) + (" …" if len(r["languages"]) > 3 else ""),
            optional=True,
        ),
        Column("Downloads", lambda r: human_count(r["downloads"]), justify="right", optional=True),
        Column("Score", lambda r: f"{r['score']:.3f}", justify="right"),
        Column("Why", lambda r: r["why"], max_width=60, min_width=24),
    ]
    excluded = ", ".join(f"{n} {reason}" for reason, n in result.excluded.items())
    caption = f"{result.considered} candidates" + (f"; excluded: {excluded}" if excluded else "")
    caption += ". Downloads and metrics are reported by the Hub / model cards, not measured here."
    render(
        rows,
        columns,
        fmt,
        title=f"Recommended for {result.task}",
        caption=caption,
        empty=f"No models for {result.task} yet — run `catalog sync --task {result.task}`.",
    )


COMMANDS = [recommend_command]
