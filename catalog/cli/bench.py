"""catalog bench run | list | show. The harness (bench/) is imported inside the callbacks only."""

from __future__ import annotations

import sys
from typing import Any

import click

from catalog.cli._common import (
    LIMIT,
    RUN_ID,
    SEED,
    db_option,
    format_choice,
    model_shape_options,
    open_db,
    parse_int_list,
    positive,
    whole,
)


def _fmt(value: Any, spec: str = ".1f") -> str:
    return "—" if value is None else format(value, spec)


def _result_columns() -> list[Any]:
    from catalog.output import Column

    def p50(r: dict[str, Any]) -> str:
        latency = r["latency_ms"]
        if not latency:
            return "—"
        return _fmt(latency["p50"], ".2f") + (" ⚠" if r.get("unstable") else "")

    def status(r: dict[str, Any]) -> str:
        if r["status"] == "ok":
            return "ok" if r.get("converged") is not False else "ok (CI > ±2%)"
        error = r.get("error") or ""
        return f"{r['status']}: {error[:120]}{' …' if len(error) > 120 else ''}"

    return [
        Column("Model", lambda r: r["model"], min_width=16),
        Column("Task", lambda r: r["task"], optional=True),
        Column("Batch", lambda r: r["batch_size"], justify="right"),
        Column("Seq", lambda r: r["seq_len"], justify="right"),
        Column("Status", status, max_width=48),
        Column("p50 ms", p50, justify="right"),
        Column("p95 ms", lambda r: _fmt((r["latency_ms"] or {}).get("p95"), ".2f"), justify="right", optional=True),
        Column("CoV", lambda r: _fmt((r["latency_ms"] or {}).get("cov"), ".1%"), justify="right"),
        Column("Iter", lambda r: r["iterations"] or "—", justify="right"),
        Column("items/s", lambda r: _fmt(r["throughput"]["items_s"]), justify="right"),
        Column("tokens/s", lambda r: _fmt(r["throughput"]["tokens_s"], ".0f"), justify="right", optional=True),
        Column("Prefill ms", lambda r: _fmt(r["prefill_ms"], ".1f"), justify="right", optional=True),
        Column("Decode ms/tok", lambda r: _fmt(r["decode_ms_per_token"], ".2f"), justify="right", optional=True),
        Column("Load s", lambda r: _fmt(r["load_time_s"], ".2f"), justify="right", optional=True),
        Column(
            "RSS MiB load/infer",
            lambda r: f"{_fmt(r['peak_rss_mb']['load'], '.0f')}/{_fmt(r['peak_rss_mb']['inference'], '.0f')}",
            justify="right",
            optional=True,
        ),
        Column("GFLOP/s", lambda r: _fmt(r["achieved_gflops"], ".0f"), justify="right"),
        Column("Peak", lambda r: _fmt(r["peak_fraction"], ".0%"), justify="right"),
        Column("Provenance", lambda r: r["provenance"], optional=True, max_width=36),
    ]


def _metric_text(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if name == "perplexity" else f"{value:.1%}" if value <= 1 else f"{value:.2f}"


def _eval_columns() -> list[Any]:
    from catalog.output import Column

    def primary(r: dict[str, Any]) -> str:
        name = r.get("primary_metric")
        if r["status"] != "ok" or not name:
            return "—"
        low, high = r["ci95"].get(name, (None, None))
        ci = f" [{_metric_text(name, low)}, {_metric_text(name, high)}]" if low is not None else ""
        return f"{name} {_metric_text(name, r['metrics'].get(name))}{ci}"

    def others(r: dict[str, Any]) -> str:
        return ", ".join(f"{k} {_metric_text(k, v)}" for k, v in r["metrics"].items() if k != r.get("primary_metric"))

    def reported(r: dict[str, Any]) -> str:
        rep = r.get("reported") or {}
        return (
            "; ".join(
                f"{k} {_metric_text(k, v['value'])} (Δ {v['delta']:+.3g}, {v['dataset']})" for k, v in rep.items()
            )
            or "—"
        )

    def status(r: dict[str, Any]) -> str:
        if r["status"] == "ok":
            return "ok"
        error = r.get("error") or ""
        return f"{r['status']}: {error[:200]}{' …' if len(error) > 200 else ''}"

    return [
        Column("Model", lambda r: r["model"], min_width=16),
        Column("Task", lambda r: r["task"], optional=True),
        Column("Eval set", lambda r: r["eval_set"]),
        Column("N", lambda r: r["n_examples"] or "—", justify="right"),
        Column("Status", status, max_width=60),
        Column("Measured [95% CI]", primary),
        Column("Other metrics", others, optional=True, max_width=40),
        Column("Reported", reported, optional=True, max_width=40),
        Column("examples/s", lambda r: _fmt(r["examples_per_s"]), justify="right"),
        Column("Note", lambda r: r.get("note") or "", optional=True, max_width=40),
    ]


def _eval_caption(rows: list[dict[str, Any]]) -> str:
    parts = ["95% CI: seeded percentile bootstrap", "examples/s: tokenisation + inference of the evaluation"]
    if any(r.get("weights") == "random" for r in rows):
        parts.append("random-weight rows: not a quality figure (chance-level check)")
    licenses = sorted({r["eval_license"] for r in rows if r.get("eval_license")})
    if licenses:
        parts.append("data license " + ", ".join(licenses))
    return " · ".join(parts)


def _caption(rows: list[dict[str, Any]], run_id: int | None, machine_id: str | None) -> str:
    from bench.latency import TAIL_SAMPLES

    parts = [f"run {run_id}" if run_id is not None else "not stored", f"machine {machine_id}"]
    if any(r.get("weights") == "random" for r in rows):
        parts.append("random-weight rows: latency and memory measured here, random weights")
    if any(r.get("unstable") for r in rows):
        parts.append("⚠ unstable: coefficient of variation above 10%")
    if any(r.get("iterations") and r["iterations"] <= TAIL_SAMPLES[95] for r in rows if r["status"] == "ok"):
        parts.append(f"p95 from ≤ {TAIL_SAMPLES[95]} iterations lies between the two slowest (more: --min-iterations)")
    if rows and all(r.get("peak_fraction") is None for r in rows if r["status"] == "ok"):
        parts.append("peak %: run `catalog hardware --calibrate` once")
    return " · ".join(parts)


@click.group("bench")
def bench_group() -> None:
    """Benchmark models on this machine: latency, throughput, memory, efficiency."""


@bench_group.command("run")
@model_shape_options(
    model_help="Hub id, local directory, config.json, GGUF file or random:TYPE,key=value (repeatable); "
    "CATALOG_ID=PATH stores a local copy's results under the catalog's id.",
    device_help="Where to run.",
    threads_help="torch intra-op threads (default: torch's choice, the physical cores).",
)
@click.option("--top", type=whole(1, 1000), help="Benchmark the recommender's top K models for --task.")
@click.option(
    "--no-weights",
    is_flag=True,
    help="Instantiate from the config with random weights: latency and memory only, labelled estimated.",
)
@click.option(
    "--budget-s",
    type=positive(86400),
    default=10.0,
    show_default=True,
    help="Time cap per (model, shape) for warm-up and measurement.",
)
@click.option(
    "--min-iterations",
    type=whole(1, 10**6),
    default=6,
    show_default=True,
    help="Timed iterations at least (6: the fewest with a 95% interval of the median); 100 for a sampled p99.",
)
@click.option(
    "--timeout-s", type=positive(7 * 86400), help="Kill a model's process after this many seconds (default: derived)."
)
@click.option(
    "--memory-limit-mb", type=positive(2**30), help="Stop a model whose RSS passes this (default: 90% of free RAM)."
)
@click.option("--allow-pickle", is_flag=True, help="Allow pickle checkpoints (*.bin); they can run arbitrary code.")
@click.option("--trust-remote-code", is_flag=True, help="Run model code from the checkpoint's repository.")
@click.option(
    "--eval",
    "eval_set",
    metavar="SET",
    help="Also score accuracy on this evaluation set (see `catalog bench evalsets`).",
)
@click.option(
    "--eval-file",
    type=click.Path(dir_okay=False),
    help="Score accuracy on your own file (CSV/TSV/JSONL, CoNLL, SQuAD JSON, text).",
)
@click.option("--text-column", default="text", show_default=True, help="--eval-file: the column holding the text.")
@click.option("--label-column", default="label", show_default=True, help="--eval-file: the column holding the label.")
@click.option("--text-pair-column", help="--eval-file: a second text column (sentence pairs).")
@click.option(
    "--reference-file", type=click.Path(dir_okay=False), help="--eval-file translation: line-aligned references."
)
@click.option(
    "--label-map",
    metavar="JSON_OR_PAIRS",
    help="Model label -> dataset label, e.g. 'POS=positive,NEG=negative' or a JSON object.",
)
@click.option(
    "--limit", type=whole(1, 10**9), help="Score a seeded random sample of N examples (perplexity: the first N tokens)."
)
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Seed of the sample, the masks and the bootstrap."
)
@click.option(
    "--eval-batch-size", type=whole(1, 2**16), default=32, show_default=True, help="Batch size of the evaluation."
)
@click.option(
    "--eval-max-length", type=whole(2, 10**7), help="Tokens per example (perplexity: per window); default: the task's."
)
@click.option(
    "--stride", type=whole(1, 10**7), help="Perplexity: tokens between window starts (default: half the window)."
)
@click.option(
    "--max-new-tokens",
    type=whole(1, 10**5),
    default=32,
    show_default=True,
    help="Summarization/translation/Whisper speech recognition: greedy decoding length.",
)
@click.option(
    "--allow-random-eval",
    is_flag=True,
    help="Allow --eval on random-weight models (a chance-level sanity check, never accuracy).",
)
@click.option("--tokenizer", type=click.Path(file_okay=False), help="Tokenizer directory for random-weight models.")
@click.option(
    "--save-predictions",
    type=click.Path(dir_okay=False),
    help="Append per-example predictions (JSON Lines) to this file.",
)
@format_choice("table", "json")
@db_option
def run_command(
    models: tuple[str, ...],
    task: str | None,
    top: int | None,
    batch_sizes: str,
    seq_lens: str,
    device: str,
    dtype: str,
    threads: int | None,
    no_weights: bool,
    budget_s: float,
    min_iterations: int,
    timeout_s: float | None,
    memory_limit_mb: float | None,
    new_tokens: int,
    allow_pickle: bool,
    trust_remote_code: bool,
    eval_set: str | None,
    eval_file: str | None,
    text_column: str,
    label_column: str,
    text_pair_column: str | None,
    reference_file: str | None,
    label_map: str | None,
    limit: int | None,
    seed: int,
    eval_batch_size: int,
    eval_max_length: int | None,
    stride: int | None,
    max_new_tokens: int,
    allow_random_eval: bool,
    tokenizer: str | None,
    save_predictions: str | None,
    fmt: str,
    db_url: str | None,
) -> None:
    """Measure latency (p50..p99 with a ±2% CI on the median), throughput, memory and GFLOP/s, each model in its
    own process; with --eval, also its task's accuracy metric on labelled data (95% bootstrap CI) and the
    evaluation's examples/s. Every result is stored as it finishes (see `catalog bench list`)."""
    from bench.spec import BenchSpec, EvalSpec, parse_label_map
    from catalog.errors import UsageError

    evaluation = None
    if eval_set or eval_file:
        evaluation = EvalSpec(
            name=eval_set, file=eval_file, text_column=text_column, label_column=label_column,
            text_pair_column=text_pair_column, reference_file=reference_file, label_map=parse_label_map(label_map),
            limit=limit, seed=seed, batch_size=eval_batch_size, max_length=eval_max_length, stride=stride,
            max_new_tokens=max_new_tokens, allow_random=allow_random_eval, save_predictions=save_predictions,
        )  # fmt: skip
    elif limit is not None or label_map:
        raise UsageError("--limit and --label-map apply to an evaluation: add --eval SET or --eval-file PATH.")

    if top is not None and not task:
        raise UsageError("--top needs --task: e.g. catalog bench run --task ner --top 3.")
    if top is not None and top <= 0:
        raise UsageError(f"--top must be positive, not {top}.")
    shapes = parse_int_list(batch_sizes, "--batch-sizes"), parse_int_list(seq_lens, "--seq-lens")
    from bench.runner import WorkerProcess

    # The first model's process starts now: its imports (seconds) overlap opening the database and resolving models.
    with WorkerProcess(threads=threads if threads and threads > 0 else None) as worker_process:
        db = open_db(db_url)
        chosen = list(models)
        if top is not None:
            assert task, "checked above"
            from catalog.recommend import recommend

            chosen += [rec.model.id for rec in recommend(task=task, limit=top, db=db)]
        spec = BenchSpec(
            models=tuple(dict.fromkeys(chosen)),
            task=task,
            batch_sizes=shapes[0],
            seq_lens=shapes[1],
            device=device,
            dtype=dtype,
            threads=threads,
            no_weights=no_weights,
            budget_s=budget_s,
            min_iterations=min_iterations,
            timeout_s=timeout_s,
            memory_limit_mb=memory_limit_mb,
            new_tokens=new_tokens,
            allow_pickle=allow_pickle,
            trust_remote_code=trust_remote_code,
            evaluation=evaluation,
            tokenizer=tokenizer,
        )
        outcome = _run_with_progress(spec, db, worker_process)
    rows = outcome.to_output()
    if fmt == "json":
        from catalog.output import render_json

        render_json(rows)
    else:
        from catalog.output import render_table

        speed = [r for r in rows if not r.get("eval_set")]
        accuracy = [r for r in rows if r.get("eval_set")]
        if speed:
            render_table(speed, _result_columns(), title="Benchmark", caption=_caption(speed, outcome.run_id,
                         outcome.hardware.get("machine_id")))  # fmt: skip
        if accuracy:
            render_table(accuracy, _eval_columns(), title="Accuracy", caption=_eval_caption(accuracy))
    if outcome.interrupted:
        click.echo(f"Interrupted: {len(rows)} finished result(s) kept in run {outcome.run_id}.", err=True)
        sys.exit(130)
    if outcome.unsaved:
        first = outcome.unsaved[0]
        click.echo(f"Error: {len(outcome.unsaved)} result(s) shown above could not be stored: {first}", err=True)
        sys.exit(1)
    if outcome.eval_refused:
        click.echo(f"Error: {outcome.eval_refused}", err=True)
        sys.exit(1)
    if rows and all(r["status"] != "ok" for r in rows):
        sys.exit(1)


def _run_with_progress(spec: Any, db: Any, worker_process: Any = None) -> Any:
    """The run under a progress bar on a terminal. The bar redraws on events only (model, loaded, result), never
    from a timer: rich's default refresh thread wakes 10 times a second, and on a 2-core machine each wake-up takes
    a core from the model's threads in the middle of a timed iteration (a ~1% bias on bert-base at batch 1)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bench.runner import run_benchmark

    console = Console(stderr=True)
    total = len(spec.models) * (len(spec.shapes) + (1 if spec.evaluation else 0))  # one "result" per shape and eval
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        console=console, transient=True, disable=not console.is_terminal, auto_refresh=False,
    ) as progress:  # fmt: skip
        bar = progress.add_task("benchmarking", total=total)

        def on_event(kind: str, **data: Any) -> None:
            if kind == "model":
                progress.update(bar, description=f"{data['model']} ({data['index'] + 1}/{data['total']}) loading")
            elif kind == "loaded":
                what = "measuring, then evaluating" if spec.evaluation else "measuring"
                progress.update(bar, description=f"{data['model']} {what}")
            elif kind == "result":
                progress.advance(bar)
            progress.refresh()

        return run_benchmark(spec, db=db, on_event=on_event, worker_process=worker_process)


@bench_group.command("list")
@click.option("--limit", "-n", type=LIMIT, default=20, show_default=True, help="How many runs, newest first; 0: all.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default="table",
    show_default=True,
    help="table for people, json or csv for scripts.",
)
@db_option
def list_command(limit: int, fmt: str, db_url: str | None) -> None:
    """List benchmark runs, newest first."""
    from bench.store import list_runs
    from catalog.output import Column, render

    rows = [r.to_dict() for r in list_runs(open_db(db_url), limit=limit)]
    if fmt != "json":
        for row in rows:
            for key in ("options", "hardware", "software"):
                row.pop(key)
    columns = [
        Column("Run", lambda r: r["id"], justify="right"),
        Column("Started", lambda r: r["created_at"]),
        Column("Status", lambda r: r["status"]),
        Column("Models", lambda r: ", ".join(r["models"][:3]) + (" …" if len(r["models"]) > 3 else ""), max_width=60),
        Column("Device", lambda r: f"{r['device']} {r['dtype']}"),
        Column("Results", lambda r: r["results"], justify="right"),
        Column("Machine", lambda r: r["machine_id"], optional=True),
    ]
    render(rows, columns, fmt, title="Benchmark runs",
           empty="No benchmark runs yet — run `catalog bench run --model ID_OR_PATH`.")  # fmt: skip


@bench_group.command("show")
@click.argument("run_id", type=RUN_ID)
@format_choice("table", "json")
@db_option
def show_command(run_id: int, fmt: str, db_url: str | None) -> None:
    """Show one run: its hardware and software fingerprint and every result."""
    from bench.store import get_run
    from catalog.output import render_json, render_table

    record = get_run(open_db(db_url), run_id)
    rows = [r.to_output() for r in record.results]
    if fmt == "json":
        render_json(record.to_dict() | {"results": rows})
        return
    hw, sw = record.hardware, record.software
    gpus = ", ".join(g.get("name", "?") for g in hw.get("gpus", [])) or "none"
    click.echo(
        f"Run {record.id} ({record.status}), {record.created_at:%Y-%m-%d %H:%M} UTC, machine {record.machine_id}\n"
        f"  CPU {hw.get('cpu_model')} · {hw.get('physical_cores')} cores · ISA {' '.join(hw.get('isa', []))} · "
        f"RAM {hw.get('ram_gb')} GB · GPU {gpus} · {hw.get('os')}\n"
        f"  Python {sw.get('python')} · torch {sw.get('torch')} · transformers {sw.get('transformers')} · "
        f"threads {sw.get('torch_threads', sw.get('threads'))} · {record.options.get('device')} "
        f"{record.options.get('dtype')}"
    )
    speed = [r for r in rows if not r.get("eval_set")]
    accuracy = [r for r in rows if r.get("eval_set")]
    if speed or not accuracy:
        render_table(speed, _result_columns(), caption=_caption(speed, record.id, record.machine_id),
                     empty="This run has no results.")  # fmt: skip
    if accuracy:
        render_table(accuracy, _eval_columns(), title="Accuracy", caption=_eval_caption(accuracy))


COMMANDS = [bench_group]
