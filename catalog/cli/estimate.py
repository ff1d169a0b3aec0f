"""catalog estimate [--check]: latency, throughput and memory from a model's config, without weights."""

from __future__ import annotations

from typing import Any

import click

from catalog.cli._common import db_option, format_choice, model_shape_options, open_db, parse_int_list


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _duration(value: float | None) -> str:
    from catalog.output import human_duration

    return human_duration(value)


def _p50(row: dict[str, Any]) -> str:
    latency = row["latency_ms"]
    text = _duration(latency["p50"])
    if latency.get("interval"):
        low, high = latency["interval"]
        text += f" [{_duration(low)}–{_duration(high)}]"
    return text


def _bound_by(row: dict[str, Any]) -> str:
    return ", ".join(f"{phase} {regime.split('-')[0]}" for phase, regime in row["regime"].items())


def _estimate_columns() -> list[Any]:
    from catalog.output import Column

    return [
        Column("Model", lambda r: r["model"], min_width=16, max_width=40),
        Column("Task", lambda r: r["task"], optional=True),
        Column("Batch", lambda r: r["batch_size"], justify="right"),
        Column("Seq", lambda r: r["seq_len"], justify="right"),
        Column("p50 est. [interval]", _p50, justify="right"),
        Column("Prefill", lambda r: _duration(r["prefill_ms"]), justify="right"),
        Column("Decode per token", lambda r: _duration(r["decode_ms_per_token"]), justify="right"),
        Column("tokens/s", lambda r: _fmt(r["throughput"]["tokens_s"], ".0f"), justify="right", optional=True),
        Column("items/s", lambda r: _fmt(r["throughput"]["items_s"], ".3g"), justify="right", optional=True),
        Column("RSS MiB", lambda r: _fmt(r["peak_rss_mb"]["inference"], ".0f"), justify="right"),
        Column("Bound by", _bound_by, optional=True),
    ]


def _advice_columns() -> list[Any]:
    from catalog.output import Column

    def rate(r: dict[str, Any]) -> str:
        if r.get("tokens_s") is not None:
            return f"{r['tokens_s']:.0f} tokens/s"
        if r.get("items_s") is not None:
            return f"{r['items_s']:.3g} items/s"
        return "—"

    return [
        Column("Model", lambda r: r["model"], max_width=40),
        Column("Context", lambda r: r["context"], justify="right"),
        Column("Weights", lambda r: r["option"]),
        Column("MiB at batch 1", lambda r: _fmt(r["memory_mb_batch_1"], ".0f"), justify="right"),
        Column("Fits", lambda r: "yes" if r["fits"] else "no"),
        Column("Largest batch", lambda r: r["largest_batch"] or "—", justify="right"),
        Column("Expected rate", rate, justify="right"),
        Column("Note", lambda r: r.get("note") or "", optional=True, max_width=40),
    ]


def _basis_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    for row in rows:
        lines.append(f"{row['model']} · batch {row['batch_size']} × {row['seq_len']} · {row['dtype']}: estimated")
        for name, text in row["basis"].items():
            lines.append(f"  {name}: {text}")
    return lines


def _check_columns() -> list[Any]:
    from catalog.output import Column

    def pair(name: str, show: Any = _duration) -> Any:
        def cell(r: dict[str, Any]) -> str:
            figure = r[name]
            if figure["measured"] is None or figure["estimated"] is None:
                return "—"
            return f"{show(figure['estimated'])} / {show(figure['measured'])} ({figure['error']:+.0%})"

        return cell

    return [
        Column("Result", lambda r: r["id"], justify="right"),
        Column("Model", lambda r: r["model"], max_width=40),
        Column("Arch", lambda r: r["architecture"], optional=True),
        Column("Batch", lambda r: r["batch_size"], justify="right"),
        Column("Seq", lambda r: r["seq_len"], justify="right"),
        Column("dtype", lambda r: r["dtype"]),
        Column("p50 est. / meas.", pair("latency_ms"), justify="right"),
        Column("Prefill", pair("prefill_ms"), justify="right", optional=True),
        Column("Decode per token", pair("decode_ms_per_token"), justify="right", optional=True),
        Column("RSS MiB", pair("peak_rss_mb", lambda v: f"{v:.3g}"), justify="right"),
    ]


@click.command("estimate")
@model_shape_options(
    model_help="Hub id (cached config or catalog row), local directory, config.json, GGUF file or "
    "random:TYPE,key=value (repeatable).",
    device_help="Where it would run.",
    threads_help="The thread count whose calibration to use (default: physical cores).",
)
@click.option("--memory", "memory", metavar="SIZE", help="Memory to fit in, e.g. 8GB (default: 80% of RAM/VRAM).")
@click.option("--check", is_flag=True, help="Estimated against measured for every past run on this machine.")
@format_choice("table", "json")
@db_option
def estimate_command(
    models: tuple[str, ...],
    task: str | None,
    batch_sizes: str,
    seq_lens: str,
    device: str,
    dtype: str,
    new_tokens: int,
    threads: int | None,
    memory: str | None,
    check: bool,
    fmt: str,
    db_url: str | None,
) -> None:
    """Estimate latency (prefill and decode for generation), throughput and memory on this machine from a model's
    config, without loading weights, with the basis of every figure, an interval learned from this machine's past
    errors, and which dtype fits in memory at the largest batch. The model is calibrated on this machine (once,
    ~1-2 s) and refined with its `catalog bench run` results; --check compares it with them."""
    from catalog import costmodel
    from catalog.output import render_json, render_table

    db = open_db(db_url)
    if check:
        result = costmodel.check(db, device=device, threads=threads)
        if fmt == "json":
            render_json(result)
            return
        summary = result["summary"]
        parts = [
            f"{name}: median error {s['median_abs_error']:.0%}, worst {s['worst_abs_error']:.0%} (n={s['n']})"
            for name, s in summary.items()
            if s["n"]
        ]
        caption = " · ".join(parts) or "no past runs to check"
        render_table(
            result["rows"],
            _check_columns(),
            title="Estimated vs measured on this machine",
            caption=caption + " · each estimated without its own model and shape",
            empty="No benchmark results on this machine yet — run `catalog bench run --model ID_OR_PATH`.",
        )
        return
    from catalog.recommend.constraints import parse_bytes

    report = costmodel.estimate(
        models,
        task=task,
        batch_sizes=parse_int_list(batch_sizes, "--batch-sizes"),
        seq_lens=parse_int_list(seq_lens, "--seq-lens"),
        dtype=dtype,
        device=device,
        new_tokens=new_tokens,
        threads=threads,
        db=db,
        memory_limit_bytes=parse_bytes(memory, "--memory") if memory else None,
    )
    if fmt == "json":
        render_json(report.to_dict())
        return
    machine = report.machine
    where = (
        f"calibrated with {machine['library']} ({machine['measured_at']})"
        if machine["measured"]
        else "NOT calibrated: figures from an assumed peak — run `catalog hardware --calibrate`"
    )
    fit = report.fit
    caption = (
        f"kind: estimated · machine {machine['machine_id']} {where} · fit on {fit['cases']} past runs here "
        "(each estimate leaves out its own model and shape)"
    )
    render_table(report.estimates, _estimate_columns(), title="Estimate (no weights loaded)", caption=caption)
    click.echo("\n".join(_basis_lines(report.estimates)))
    for note in machine.get("notes") or []:
        click.echo(f"note: {note}")
    advice_rows = [
        option | {"model": a["model"], "context": a["context"]} for a in report.advice for option in a["options"]
    ]
    summaries = " · ".join(f"{a['model']} @ {a['context']}: {a['summary']}" for a in report.advice)
    render_table(advice_rows, _advice_columns(), title="What fits", caption=summaries)


COMMANDS = [estimate_command]
