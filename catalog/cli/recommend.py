"""catalog recommend"""

from __future__ import annotations

from typing import Any

import click

from catalog.cli._common import LIMIT, Number, listing_options, open_db, parse_number, positive, whole

LEGEND = (
    "◆ Pareto frontier (accuracy, latency, memory). [here] measured on this machine, "
    "[card] reported by the model card or Hub, [est.] estimated (see --explain)."
)


def _figure(figure: dict[str, Any] | None, unit: str = "") -> str:
    if not figure:
        return "—"
    tag = {"measured": "here", "reported": "card", "estimated": "est."}.get(figure["kind"], figure["kind"])
    value = figure["value"]
    if unit == "ms":
        text = f"{value:.3g} ms" if value < 100 else (f"{value:.0f} ms" if value < 10000 else f"{value / 1000:.1f} s")
    else:
        text = f"{value:.3g}"
    return f"{text} [{tag}]"


def _license_cell(row: dict[str, Any]) -> str:
    flagged = any(flag.startswith("license") for flag in row["flags"])
    return (row["license"] or "—") + (" ⚠" if flagged else "")


def _languages_cell(row: dict[str, Any]) -> str:
    languages = row["languages"]
    return ", ".join(languages[:3]) + (" …" if len(languages) > 3 else "")


def _weights(values: tuple[str, ...]) -> dict[str, float]:
    weights = {}
    for item in values:
        name, separator, number = item.partition("=")
        if not separator or not name.strip():
            raise click.BadParameter(f"{item!r}: use NAME=NUMBER, e.g. latency=0.5", param_hint="--weight")
        weights[name.strip()] = parse_number(number, f"--weight {name.strip()}", minimum=0, maximum=1000)
    return weights


@click.command("recommend")
@click.option("--task", "-t", required=True, help="Task id or alias (e.g. ner, sentiment, asr).")
@click.option("--limit", "-n", default=10, show_default=True, type=LIMIT, help="How many; 0 shows all.")
@click.option(
    "--profile",
    type=click.Choice(["balanced", "fast", "accurate", "small"]),
    default="balanced",
    show_default=True,
    help="Scoring weights (see --explain for the components).",
)
@click.option("--weight", "weight", multiple=True, metavar="NAME=W", help="Override one component weight (repeatable).")
@click.option("--license", "licenses", multiple=True, metavar="ID", help="Only these licenses (repeatable).")
@click.option("--permissive", is_flag=True, help="Only permissive licenses (Apache, MIT, BSD, CC-BY ...).")
@click.option("--commercial-ok", is_flag=True, help="Only licenses that allow commercial use (unknown ones excluded).")
@click.option(
    "--language",
    "languages",
    multiple=True,
    metavar="CODE",
    help="Model must be tagged with this language (repeatable: all of them).",
)
@click.option("--max-params", metavar="N", help="At most this many parameters (50M, 1.5B or a number).")
@click.option(
    "--max-memory",
    metavar="SIZE",
    help="Weights at --dtype plus 20% overhead (or the measured peak) within SIZE (e.g. 8GB).",
)
@click.option("--fits", is_flag=True, help="Must fit in 80% of this machine's RAM (see `catalog hardware`).")
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float16", "bfloat16", "int8", "int4"]),
    default="float32",
    show_default=True,
    help="Weight precision for memory estimates.",
)
@click.option("--architecture", help="Only this architecture kind (e.g. encoder-only).")
@click.option("--family", help="Only this family (e.g. bert, GPT-2).")
@click.option("--library", help="Only this library (e.g. transformers, sentence-transformers).")
@click.option("--include-api", is_flag=True, help="Also rank API-only models (Claude 3, Gemini).")
@click.option("--include-gated", is_flag=True, help="Also rank gated models (license acceptance needed).")
@click.option(
    "--max-latency-ms", type=positive(1e12), help="Latency target: measured p50 here, else estimated from parameters."
)
@click.option(
    "--batch-size", type=whole(1, 2**16), default=1, show_default=True, help="Batch size the latency target is for."
)
@click.option(
    "--seq-len", type=whole(1, 10**8), default=128, show_default=True, help="Sequence length the latency target is for."
)
@click.option(
    "--min-accuracy", type=Number(minimum=0, maximum=100), help="Accuracy target for the task's metric (0.9 or 90)."
)
@click.option("--pareto", is_flag=True, help="Show only the accuracy/latency/memory Pareto frontier.")
@click.option("--explain", "explain_id", metavar="MODEL_ID", help="Print the full score breakdown for one model.")
@listing_options
def recommend_command(
    task: str,
    limit: int,
    profile: str,
    weight: tuple[str, ...],
    licenses: tuple[str, ...],
    permissive: bool,
    commercial_ok: bool,
    languages: tuple[str, ...],
    max_params: str | None,
    max_memory: str | None,
    fits: bool,
    dtype: str,
    architecture: str | None,
    family: str | None,
    library: str | None,
    include_api: bool,
    include_gated: bool,
    max_latency_ms: float | None,
    batch_size: int,
    seq_len: int,
    min_accuracy: float | None,
    pareto: bool,
    explain_id: str | None,
    db_url: str | None,
    fmt: str,
    lang: str,
) -> None:
    """Rank the models for a task under your constraints, with the reasons for each rank.

    Figures are marked [here] (measured on this machine), [card] (reported by the model card / Hub) or [est.]
    (estimated, with the basis shown by --explain).
    """
    from catalog.output import Column, human_count, render, render_json_items
    from catalog.recommend import explain, recommend

    options: dict[str, Any] = dict(
        profile=profile, weights=_weights(weight), license=licenses, permissive=permissive,
        commercial_ok=commercial_ok, language=languages, max_params=max_params, max_memory=max_memory, fits=fits,
        dtype=dtype, architecture=architecture, family=family, library=library, include_api=include_api,
        include_gated=include_gated, max_latency_ms=max_latency_ms, batch_size=batch_size, seq_len=seq_len,
        min_accuracy=min_accuracy,
    )  # fmt: skip
    database = open_db(db_url)
    if explain_id:
        _print_explanation(explain(explain_id, task, db=database, **options), fmt)
        return
    result = recommend(task, limit=limit, pareto_only=pareto, db=database, **options)
    if fmt == "json":
        render_json_items(item.to_dict() for item in result)
        if result.empty_reason:
            from catalog.recommend import NoMatchError

            raise NoMatchError(result.empty_reason)
        return
    rows = result.to_list()
    columns = [
        Column("#", lambda r: f"{r['rank']}{'◆' if r['pareto'] else ''}", justify="right"),
        Column("Model", lambda r: r["id"], min_width=24),
        Column("Family", lambda r: r["family"], optional=True),
        Column("Architecture", lambda r: r["architecture"], optional=True),
        Column("Params", lambda r: human_count(r["params"]), justify="right"),
        Column("License", _license_cell),
        Column("Languages", _languages_cell, optional=True),
        Column("Downloads", lambda r: human_count(r["downloads"]), justify="right", optional=True),
        Column("Accuracy", lambda r: _figure(r["accuracy"]), optional=True),
        Column("Latency", lambda r: _figure(r["latency_ms"], "ms"), optional=True),
        Column("Score", lambda r: f"{r['score']:.3f}", justify="right"),
        Column("Why", lambda r: r["why"], max_width=60, min_width=24),
    ]  # fmt: skip
    caption = f"{result.matched} of {result.considered} {result.task} models match (profile {result.profile})"
    if fmt == "csv":
        render(rows, columns, "csv")
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    if rows:
        render(rows, columns, "table", title=f"Recommended for {result.task}", caption=caption)
        console.print(escape(LEGEND))
    if result.excluded:
        console.print("Excluded: " + escape("; ".join(f"{reason}: {n}" for reason, n in result.excluded.items())))
    if result.unverifiable:
        console.print(f"[bold]Not checked[/bold] — {result.unverifiable_total} models pass the hard constraints but "
                      "have no figure for a target:")  # fmt: skip
        for item in result.unverifiable[:10]:
            console.print(f"  {item.id}: {item.reason}")
    if result.suggestion:
        console.print(f"[bold]Hint:[/bold] {result.suggestion}")
    if result.empty_reason:
        from catalog.recommend import NoMatchError

        raise NoMatchError(result.empty_reason)


def _print_explanation(explanation: Any, fmt: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from catalog.output import render_json

    if fmt != "table":
        render_json(explanation.to_dict())
        return
    console = Console()
    if explanation.score is None:
        console.print(
            f"{explanation.model} is not ranked for {explanation.task}: excluded by "
            + ", ".join(explanation.excluded_by)
            + "."
        )
        return
    table = Table(title=f"{explanation.model} for {explanation.task}: rank {explanation.rank}, "
                        f"score {explanation.score:.4f} (profile {explanation.profile})")  # fmt: skip
    for header in ("Component", "Weight", "Value", "Contribution", "Raw", "Provenance"):
        table.add_column(
            header, overflow="fold", justify="right" if header in ("Weight", "Value", "Contribution") else "left"
        )
    for c in explanation.components:
        table.add_row(c.name, f"{c.weight:.2f}", f"{c.value:.3f}", f"{c.contribution:.4f}", c.raw, c.provenance)
    table.add_row("total", "", "", f"{sum(c.contribution for c in explanation.components):.4f}", "", "")
    console.print(table)
    if explanation.base_model:
        console.print(f"Fine-tuned from {explanation.base_model}.")


COMMANDS = [recommend_command]
