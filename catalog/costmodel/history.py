"""This machine's stored benchmark results as the cost model's history (plain SQL through catalog.db.reader: no
SQLAlchemy needed, no ORM, no torch)."""

from __future__ import annotations

from typing import Any

from catalog.costmodel.estimator import History, architecture, build_observations, terms
from catalog.errors import CatalogError

GENERATION_TASKS = {"text-generation", "text2text-generation", "summarization", "translation"}


def _reconstruct(
    row: dict[str, Any], new_tokens: int, audio_seconds: float, cache: dict[Any, Any]
) -> dict[str, Any] | None:
    """Terms of an older result stored without them: from its config when one can be found without the network
    (random: specs, local paths, the Hugging Face cache); None otherwise (a derived shape would teach the fit
    nothing about real models)."""
    key = (row["model"], row["task"], row["batch_size"], row["seq_len"], row["dtype"], new_tokens)
    if key in cache:
        return cache[key]  # type: ignore[no-any-return]
    from catalog.costmodel.source import resolve_source
    from catalog.model_config import infer_task

    record = None
    try:
        name = row["model"]
        if name.startswith("random:") or name.startswith(("/", ".", "~")) or "=" in name or name.count("/") == 1:
            source = resolve_source(name, db=_NoCatalog())
            if source.config is not None:
                task = row["task"] or infer_task(source.config)
                arch = architecture(source, task)
                # weights at the dtype, as the worker records it: GGUF weights dequantised to it
                shape = (row["batch_size"], row["seq_len"], row["dtype"])
                record = terms(arch, task, *shape, new_tokens=new_tokens, audio_seconds=audio_seconds)
    except (CatalogError, OSError, ValueError, KeyError):
        record = None
    cache[key] = record
    return record


def threads_of(threads: Any, device: str) -> int | None:
    if device != "cpu":
        return None
    if isinstance(threads, int) and threads > 0:
        return threads
    from catalog import hardware

    return hardware.default_threads()


class _NoCatalog:
    """Stands in for the database when reconstructing: a name that is only a catalog row is skipped."""

    def connect(self) -> Any:
        raise CatalogError("no config")


def load_history(db: Any, device: str = "cpu", machine_id: str | None = None, threads: int | None = None) -> History:
    """Every ok speed result of this machine on `device` (at `threads`, default the physical cores: a run at
    another thread count is another machine as far as speed goes), newest last, with the terms to fit on."""
    if machine_id is None:
        from catalog import hardware

        machine_id = str(hardware.fingerprint()["machine_id"])
    with db.connect() as conn:
        return history_from_connection(conn, device, machine_id, threads)


def history_from_connection(
    conn: Any, device: str, machine_id: str, threads: int | None = None, *, reconstruct: bool = True
) -> History:
    """load_history on an open connection (a SQLAlchemy Connection or a catalog.db.reader.Reader).
    reconstruct=False (inside `catalog recommend`): only results stored with their terms, no config look-ups."""
    from catalog.db.reader import as_json, as_reader

    query = (
        "SELECT r.id, r.run_id, r.model_id, r.task_id, r.batch_size, r.seq_len, r.dtype, r.weights, r.latency_p50_ms, "
        "r.prefill_ms, r.decode_ms_per_token, r.peak_rss_infer_mb, r.details, runs.options "
        "FROM benchmark_results r JOIN benchmark_runs runs ON runs.id = r.run_id "
        "WHERE runs.machine_id = :machine AND r.device = :device AND r.status = 'ok' AND r.eval_set IS NULL "
        "AND r.latency_p50_ms IS NOT NULL ORDER BY r.id"
    )
    history = History()
    cache: dict[Any, Any] = {}
    wanted = threads_of(threads, device)
    names = ("id", "run_id", "model", "task", "batch_size", "seq_len", "dtype", "weights", "latency_p50_ms",
             "prefill_ms", "decode_ms_per_token", "peak_rss_infer_mb")  # fmt: skip
    for raw in as_reader(conn).all(query, {"machine": machine_id, "device": device}):
        options = as_json(raw[13]) or {}
        if threads_of(options.get("threads"), device) != wanted:
            continue
        row = dict(zip(names, raw[:12], strict=True))
        stored = (as_json(raw[12]) or {}).get("estimate") or {}
        record = stored.get("terms")
        if not record and reconstruct:
            new_tokens = int(options.get("new_tokens") or 16)
            audio_seconds = float(options.get("audio_seconds") or 5.0)
            record = _reconstruct(row, new_tokens, audio_seconds, cache)
        if not record:
            continue
        row["terms"] = record
        row["recorded_estimate"] = {k: v for k, v in stored.items() if k != "terms"} or None
        observations, memory = build_observations(row, record)
        history.observations += observations
        if memory is not None:
            history.memory.append(memory)
        history.rows.append(row)
    return history
