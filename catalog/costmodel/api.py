"""The cost model's entry points: `estimate()` (what `catalog estimate` shows), `check()` (estimated against
measured for every past run here), `record()` (the estimate stored next to a bench result)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from catalog.costmodel import machine
from catalog.costmodel.estimator import History, advice, architecture, figures, predict
from catalog.costmodel.source import resolve_source
from catalog.errors import UsageError
from catalog.model_config import infer_task

DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class EstimateReport:
    estimates: list[dict[str, Any]] = field(default_factory=list)
    advice: list[dict[str, Any]] = field(default_factory=list)
    machine: dict[str, Any] = field(default_factory=dict)
    fit: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"estimates": self.estimates, "advice": self.advice, "machine": self.machine, "fit": self.fit}


def _history(db: Any, device: str, machine_id: str | None, threads: int | None = None) -> History:
    from catalog.costmodel.history import load_history

    try:
        return load_history(db, device, machine_id, threads)
    except Exception as exc:  # a database without results (or without the tables yet) is an empty history
        if type(exc).__name__ in ("OperationalError", "ProgrammingError"):
            return History()
        raise


def memory_limit(device: str) -> tuple[float, str]:
    """Usable memory where the model runs: 80% of RAM (CPU) or of the first GPU's memory."""
    from catalog import hardware

    if device == "cuda":
        gpus = hardware.nvidia_gpus()
        if gpus:
            return gpus[0]["memory_mb"] * 2**20 * 0.9, f"VRAM of {gpus[0]['name']}"
    import psutil

    return psutil.virtual_memory().total * 0.8, "RAM (80% usable)"


def estimate(
    models: list[str] | tuple[str, ...],
    *,
    task: str | None = None,
    batch_sizes: tuple[int, ...] = (1,),
    seq_lens: tuple[int, ...] = (128,),
    dtype: str = "float32",
    device: str = "cpu",
    new_tokens: int = 16,
    threads: int | None = None,
    audio_seconds: float = 5.0,
    db: Any = None,
    calibrate: bool = True,
    memory_limit_bytes: float | None = None,
) -> EstimateReport:
    """Estimate every model x shape without loading weights. Each estimate's fit leaves out the runs of that same
    model and shape. `calibrate`: measure this machine once when nothing is cached (numpy, ~1-2 s)."""
    if not models:
        raise UsageError("Nothing to estimate: give --model ID_OR_PATH (repeatable) or --check.")
    if dtype not in DTYPES:
        raise UsageError(f"--dtype must be one of {', '.join(DTYPES)}, not {dtype!r}.")
    if new_tokens < 1:
        raise UsageError(f"--new-tokens must be at least 1, not {new_tokens}.")
    if any(b <= 0 for b in batch_sizes) or any(s <= 0 for s in seq_lens):
        raise UsageError("--batch-sizes and --seq-lens must be positive integers.")
    if db is None:
        from catalog.db import open_database

        db = open_database()
    profile = machine.ensure(device, threads) if calibrate else machine.profile(device, threads)
    history = _history(db, device, profile.machine_id, threads)
    interval = history.interval(profile)
    limit, where = (memory_limit_bytes, "the given memory") if memory_limit_bytes else memory_limit(device)
    report = EstimateReport(machine=profile.to_dict() | {"notes": profile.notes})
    report.fit = history.fit(profile).to_dict()
    for name in models:
        source = resolve_source(name, db)
        case_task = task or source.task or (infer_task(source.config) if source.config else None)
        if case_task is None:
            raise UsageError(f"{name}: the task cannot be told from what is known; give --task.")
        arch = architecture(source, case_task)
        for batch in batch_sizes:
            for seq in seq_lens:
                fit_ = history.fit(profile, exclude=(name, batch, seq))
                report.estimates.append(
                    figures(
                        source,
                        arch,
                        case_task,
                        batch,
                        seq,
                        dtype,
                        device,
                        fit_,
                        new_tokens=new_tokens,
                        audio_seconds=audio_seconds,
                        interval=interval,
                    )
                )
        fit_all = history.fit(profile)
        for seq in seq_lens:
            report.advice.append(
                {"model": name, "task": case_task, "seq_len": seq}
                | advice(
                    arch,
                    case_task,
                    seq,
                    dtype,
                    fit_all,
                    limit,
                    where,
                    new_tokens=new_tokens,
                    audio_seconds=audio_seconds,
                    gguf=source.gguf,
                )
            )
    return report


def check(db: Any = None, *, device: str = "cpu", threads: int | None = None) -> dict[str, Any]:
    """Estimated against measured for every past run on this machine (each estimated without the runs of its own
    model and shape): per result, and the median and worst error of p50 latency, prefill, decode and memory."""
    if db is None:
        from catalog.db import open_database

        db = open_database()
    profile = machine.profile(device, threads)
    history = _history(db, device, profile.machine_id, threads)
    rows = []
    errors: dict[str, list[float]] = {"latency_ms": [], "prefill_ms": [], "decode_ms_per_token": [], "peak_rss_mb": []}
    for row in history.loo(profile):
        est = row["estimated"]
        ph = est["phases"]
        pairs = {
            "latency_ms": (est["latency_ms"], row["latency_p50_ms"]),
            "prefill_ms": (ph["prefill"]["ms"] if "prefill" in ph else None, row["prefill_ms"]),
            "decode_ms_per_token": (
                ph["decode"]["ms_per_call"] if "decode" in ph else None,
                row["decode_ms_per_token"],
            ),
            "peak_rss_mb": (est["peak_rss_mb"], row["peak_rss_infer_mb"]),
        }
        out = {k: row[k] for k in ("id", "run_id", "model", "task", "batch_size", "seq_len", "dtype", "weights")}
        out["architecture"] = row["terms"]["kind"]
        for name, (estimated, measured) in pairs.items():
            error = (estimated - measured) / measured if estimated is not None and measured else None
            out[name] = {"estimated": estimated, "measured": measured, "error": error}
            if error is not None:
                errors[name].append(error)
        rows.append(out)
    summary = {
        name: {
            "n": len(values),
            "median_abs_error": statistics.median(abs(v) for v in values) if values else None,
            "worst_abs_error": max((abs(v) for v in values), default=None),
        }
        for name, values in errors.items()
    }
    return {"machine": profile.to_dict(), "rows": rows, "summary": summary, "fit": history.fit(profile).to_dict()}


def record_terms(
    config: dict[str, Any],
    task: str,
    batch: int,
    seq_len: int,
    dtype: str,
    *,
    new_tokens: int = 16,
    audio_seconds: float = 5.0,
) -> dict[str, Any] | None:
    """The machine-independent terms of a benchmarked case (the worker has the model's full config); None when the
    cost model has no shapes for it."""
    from catalog.costmodel.estimator import terms
    from catalog.costmodel.source import ModelSource

    try:
        arch = architecture(ModelSource("bench", config, "the benchmarked model's config"), task)
        return terms(arch, task, batch, seq_len, dtype, new_tokens=new_tokens, audio_seconds=audio_seconds)
    except Exception:  # the estimate is an annotation: it must never fail a measurement
        return None


def record(
    db: Any, model_id: str, batch: int, seq_len: int, dtype: str, device: str, record_terms_: dict[str, Any]
) -> dict[str, Any]:
    """The estimate stored with a bench result: its terms and what the model predicted for it from every other
    run on this machine (never from runs of the same model and shape)."""
    profile = machine.profile(device)
    history = _history(db, device, profile.machine_id)
    fit_ = history.fit(profile, exclude=(model_id, batch, seq_len))
    predicted = predict(record_terms_, fit_, dtype)
    ph = predicted["phases"]
    return {
        "terms": record_terms_,
        "latency_ms": predicted["latency_ms"],
        "prefill_ms": ph["prefill"]["ms"] if "prefill" in ph else None,
        "decode_ms_per_token": ph["decode"]["ms_per_call"] if "decode" in ph and ph["decode"]["calls"] else None,
        "peak_rss_mb": predicted["peak_rss_mb"],
        "fit_cases": fit_.cases,
        "calibrated": profile.measured,
    }
