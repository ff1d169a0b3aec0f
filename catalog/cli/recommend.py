"""catalog recommend"""

from __future__ import annotations

from typing import Any

import click

from catalog.cli._common import LIMIT, Number, db_url_of, listing_options, open_db, parse_number, positive, whole

LEGEND = (
    "◆ Pareto frontier (accuracy, latency, memory). Accuracy: value, metric, benchmark and source: [here] measured "
    "on this machine, [card] model card or Hub, [leaderboard], [paper], [user]; (alone) no other candidate has a "
    "comparable figure; prior: no direct evidence. [est.] estimated; ~ parameter count estimated (from the model "
    "name). --explain MODEL shows every figure used or ignored, and each figure's basis."
)


def _figure(figure: dict[str, Any] | None, unit: str = "") -> str:
    if not figure:
        return "—"
    tag = {"measured": "here", "reported": "card", "estimated": "est."}.get(figure["kind"], figure["kind"])
    value = figure["value"]
    if unit == "ms":
        from catalog.output import human_duration

        text = human_duration(value)
    else:
        text = f"{value:.3g}"
    return f"{text} [{tag}]"


def _params_cell(row: dict[str, Any]) -> str:
    """The parameter count, with ~ when it is estimated (from the model name ...): params_basis says how."""
    from catalog.output import human_count

    if row["params"] is None:
        return "—"
    estimated = (row.get("params_basis") or "").startswith("estimated")
    return ("~" if estimated else "") + human_count(row["params"])


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
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "mps"]),
    help="Use latency/memory measured here only from runs on this device (default: any device; the figure says which).",
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
    device: str | None,
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
    from catalog.output import render, render_json_items
    from catalog.recommend import explain, recommend

    options: dict[str, Any] = dict(
        profile=profile, weights=_weights(weight), license=licenses, permissive=permissive,
        commercial_ok=commercial_ok, language=languages, max_params=max_params, max_memory=max_memory, fits=fits,
        dtype=dtype, architecture=architecture, family=family, library=library, include_api=include_api,
        include_gated=include_gated, max_latency_ms=max_latency_ms, batch_size=batch_size, seq_len=seq_len,
        device=device, min_accuracy=min_accuracy,
    )  # fmt: skip
    url = db_url_of(db_url)
    if device in (None, "cpu"):  # estimates need this machine's peak: measured once, on first use (~1-2 s)
        from catalog.costmodel import machine

        machine.ensure("cpu")
    if explain_id:
        _print_explanation(explain(explain_id, task, db=open_db(url), **options), fmt)
        return
    # a URL, not an opened Database: a current SQLite file is then read without SQLAlchemy (catalog.db.reader)
    result = recommend(task, limit=limit, pareto_only=pareto, db=url, **options)
    if fmt == "json":
        render_json_items(item.to_dict() for item in result)
        if result.empty_reason:
            from catalog.recommend import NoMatchError

            raise NoMatchError(result.empty_reason)
        return
    if fmt == "csv":
        render(result.to_list(), _columns(), "csv")
    else:
        from rich.console import Console

        print_recommendations(result, Console(highlight=False))
    if result.empty_reason:
        from catalog.recommend import NoMatchError

        raise NoMatchError(result.empty_reason)


def _columns() -> list[Any]:
    """The recommendation table's columns; `priority` says which come first when the terminal is narrow (0: always)."""
    from catalog.output import Column, human_count

    return [
        Column("#", lambda r: f"{r['rank']}{'◆' if r['pareto'] else ''}", justify="right", no_wrap=True),
        Column("Model", lambda r: r["id"], no_wrap=True),
        Column("Params", _params_cell, justify="right", no_wrap=True, priority=2),
        Column("License", _license_cell, priority=3),
        Column("Accuracy", lambda r: (r["accuracy"] or {}).get("display") or "—", max_width=34, priority=1),
        Column("Latency", lambda r: _figure(r["latency_ms"], "ms"), priority=4),
        Column("Score", lambda r: f"{r['score']:.3f}", justify="right", no_wrap=True),
        Column("Downloads", lambda r: human_count(r["downloads"]), justify="right", no_wrap=True, priority=6),
        Column("Family", lambda r: r["family"], priority=7),
        Column("Languages", _languages_cell, priority=8),
        Column("Architecture", lambda r: r["architecture"], priority=9),
        Column("Why", lambda r: r["why"], max_width=60, min_width=24, priority=5),
    ]  # fmt: skip


def print_recommendations(result: Any, console: Any) -> None:
    """The ranked table, fitted to the console: columns are chosen by width, and when the reasons do not fit as a
    column they follow the table, one line per model. Model ids are never cut; if even the rank, id and score do not
    fit in a row, each model is listed on its own lines."""
    from rich.markup import escape

    from catalog.output import fit_table

    rows = result.to_list()
    caption = f"{result.matched} of {result.considered} {result.task} models match (profile {result.profile})"
    dates = sorted({row["downloads_as_of"] for row in rows if row.get("downloads_as_of")})
    if dates:
        caption += f"; downloads: Hub 30-day counts as of {' to '.join(dict.fromkeys([dates[0], dates[-1]]))}"
    if rows:
        fitted = fit_table(console, rows, _columns(), title=f"Recommended for {result.task}", caption=caption)
        if fitted is None:
            console.print(escape(f"Recommended for {result.task} ({caption})"))
            for row in rows:
                console.print(escape(f"{row['rank']}. {row['id']}"), no_wrap=True, overflow="ignore", crop=False)
                accuracy = (row["accuracy"] or {}).get("display") or "no accuracy figure"
                console.print(escape(f"   score {row['score']:.3f}; {accuracy}; {row['why']}"))
        else:
            table, kept = fitted
            console.print(table)
            if not any(column.header == "Why" for column in kept):
                from rich.table import Table

                reasons = Table.grid(padding=(0, 1))  # a hanging indent: wrapped reasons stay under their text
                reasons.add_column(justify="right", no_wrap=True)
                reasons.add_column(overflow="fold")
                shown = {column.header for column in kept}
                for row in rows:
                    why = row["why"]
                    accuracy = (row["accuracy"] or {}).get("display")
                    if "Accuracy" not in shown and accuracy and accuracy not in why:
                        why = f"{accuracy}; {why}"  # the table had no room for the figure: it leads the reasons
                    reasons.add_row(f"{row['rank']}.", escape(why))
                console.print(reasons)
        console.print(escape(LEGEND))
        smaller = [row for row in rows if row.get("fits_as")]
        if smaller:
            kinds = ", ".join(dict.fromkeys(row["fits_as"]["label"] for row in smaller))
            console.print(escape(f"--fits: {len(smaller)} of these fit only as {kinds} (estimated; see Why and "
                                 "--explain); the rest fit at the dtype asked for."))  # fmt: skip
    if result.excluded:
        console.print("Excluded: " + escape("; ".join(f"{reason}: {n}" for reason, n in result.excluded.items())))
    if result.unverifiable:
        console.print(f"[bold]Not checked[/bold] — {result.unverifiable_total} models pass the hard constraints but "
                      "have no figure for a target:")  # fmt: skip
        for item in result.unverifiable[:10]:
            console.print(escape(f"  {item.id}: {item.reason}"))
    if result.suggestion:
        console.print(f"[bold]Hint:[/bold] {escape(result.suggestion)}")


def _print_explanation(explanation: Any, fmt: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from catalog.output import render_json

    if fmt != "table":
        render_json(explanation.to_dict())
        return
    console = Console()
    if explanation.score is None:
        console.print(
            escape(
                f"{explanation.model} is not ranked for {explanation.task}: excluded by "
                + ", ".join(explanation.excluded_by)
                + "."
            )
        )
        return
    _print_components(explanation, console)
    if explanation.base_model:
        console.print(escape(f"Fine-tuned from {explanation.base_model}."))
    fits_as = explanation.figures.get("fits_as")
    if fits_as:
        memory = fits_as["memory_bytes"]
        size = f"{memory / 2**30:.2f} GiB of " if memory else "within "
        console.print(escape(f"--fits: too big at the dtype asked for; fits only as {fits_as['label']}, {size}"
                             f"{fits_as['limit_bytes'] / 2**30:.2f} GiB ({fits_as['runtime']}); "
                             f"{fits_as['basis']}."))  # fmt: skip
    _print_evidence(explanation, console)


def _print_components(explanation: Any, console: Any) -> None:
    """The score's components, fitted to the console like the ranking table: where the raw figure or its provenance
    does not fit as a column, it follows the table, one line per component, so no word is cut."""
    from rich.markup import escape

    from catalog.output import Column, fit_table

    title = (f"{explanation.model} for {explanation.task}: rank {explanation.rank}, "
             f"score {explanation.score:.4f} (profile {explanation.profile})")  # fmt: skip
    rows = [{"name": c.name, "weight": f"{c.weight:.2f}", "value": f"{c.value:.3f}",
             "contribution": f"{c.contribution:.4f}", "raw": c.raw, "provenance": c.provenance}
            for c in explanation.components]  # fmt: skip
    rows.append({"name": "total", "weight": "", "value": "", "raw": "", "provenance": "",
                 "contribution": f"{sum(c.contribution for c in explanation.components):.4f}"})  # fmt: skip
    columns = [
        Column("Component", lambda r: r["name"], no_wrap=True),
        Column("Weight", lambda r: r["weight"], justify="right", no_wrap=True),
        Column("Value", lambda r: r["value"], justify="right", no_wrap=True),
        Column("Contribution", lambda r: r["contribution"], justify="right", no_wrap=True),
        Column("Raw", lambda r: r["raw"], max_width=40, priority=1),
        Column("Provenance", lambda r: r["provenance"], min_width=30, priority=2),
    ]
    fitted = fit_table(console, rows, columns, title=title)
    kept = fitted[1] if fitted else []
    if fitted:
        console.print(fitted[0])
    else:
        console.print(escape(title))
    shown = {column.header for column in kept}
    for row in rows[:-1]:
        parts = [] if fitted else [f"{row['contribution']} = {row['weight']} x {row['value']}"]
        parts += [row[key] for key, header in (("raw", "Raw"), ("provenance", "Provenance")) if header not in shown]
        if parts:
            console.print(escape(f"{row['name']}: " + "; ".join(p for p in parts if p)))


def _print_evidence(explanation: Any, console: Any) -> None:
    """Every evidence row the accuracy component used, and every row it ignored with the reason."""
    from rich.markup import escape

    used, ignored = explanation.evidence_rows()
    quality = explanation.evidence
    if quality is not None and quality.basis == "prior":
        console.print(escape(f"Accuracy is a prior (no direct evidence): {quality.prior}."))
    for note in quality.partial if quality is not None else []:
        console.print(escape(f"Partial coverage, not counted: {note}."))

    def figure(row: dict[str, Any]) -> str:
        where = "/".join(str(p) for p in (row["dataset"], row["config"], row["split"]) if p)
        protocol = ", ".join(p for p in (f"{row['n_shot']}-shot" if row["n_shot"] is not None else None,
                                         row["protocol"]) if p)  # fmt: skip
        return f"{row['metric']} {row['value']:.4g} on {where}" + (f" ({protocol})" if protocol else "")

    def source(row: dict[str, Any]) -> str:
        verified = "verified" if row["verified"] else "self-reported"
        return f"{row['source']}: {row['source_name']}, {row['date'] or 'undated'}, {verified}"

    if not used and not ignored:
        console.print("No quality evidence for this model on this task.")
        return
    if used:
        rows = []
        for row in used:
            standing = f"{row['standing']:.2f} vs {row['compared_with']}"
            if row["aggregate_of"]:
                standing += f" (mean of {row['aggregate_of']})"
            shown = figure(row) + (f" ({row['note']})" if row.get("note") else "")
            rows.append({"benchmark": row["benchmark"], "figure": shown, "source": source(row), "standing": standing})
        _print_fitted(console, rows, _keyed_columns("Benchmark", "Figure", "Source", "Standing"),
                      f"Evidence used ({len(used)})")  # fmt: skip
    if ignored:
        rows = [{"figure": figure(row), "source": source(row), "reason": row["reason"]} for row in ignored]
        _print_fitted(console, rows, _keyed_columns("Figure", "Source", "Reason"), f"Evidence ignored ({len(ignored)})")


def _keyed_columns(*headers: str) -> list[Any]:
    """Columns that show the row's value under each header's lower-case name."""
    from operator import itemgetter

    from catalog.output import Column

    return [Column(header, itemgetter(header.lower())) for header in headers]


def _print_fitted(console: Any, rows: list[dict[str, Any]], columns: list[Any], title: str) -> None:
    """A table when its words fit the console, else one block of `header: value` lines per row (nothing cut)."""
    from rich.markup import escape

    from catalog.output import fit_table

    fitted = fit_table(console, rows, columns, title=title)
    if fitted is not None:
        console.print(fitted[0])
        return
    console.print(escape(title))
    for row in rows:
        console.print(escape("- " + "; ".join(f"{c.header.lower()}: {c.value(row)}" for c in columns)))


COMMANDS = [recommend_command]
