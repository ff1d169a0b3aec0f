"""BenchmarkRun / BenchmarkResult rows. Every result is committed the moment it arrives, in its own transaction, so
an interrupted run keeps everything that finished. Writes are retried when another process holds the database
(a sync or an import): a finished measurement is stored, not lost. A run records the process that runs it, so a
run whose process died without closing it (kill -9, power loss) is marked interrupted the next time runs are
started or listed on that machine."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench.results import BenchResult
from catalog.db.engine import Database
from catalog.db.models import BenchmarkResult, BenchmarkRun, utcnow
from catalog.errors import UnknownNameError

ROW_FIELDS = (
    "model_id", "task_id", "batch_size", "seq_len", "device", "dtype", "weights", "status", "error",
    "latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms", "latency_mean_ms", "latency_stdev_ms",
    "latency_cov", "iterations", "throughput_items_s", "throughput_tokens_s", "prefill_ms", "decode_ms_per_token",
    "load_time_s", "peak_rss_load_mb", "peak_rss_infer_mb", "flops_per_forward", "achieved_gflops",
    "peak_fraction", "samples_ms", "unstable", "eval_set", "eval_checksum", "eval_license", "n_examples",
    "examples_per_s", "primary_metric", "metrics", "ci95",
)  # fmt: skip
DETAIL_FIELDS = ("converged", "cuda_max_allocated_mb", "cuda_max_reserved_mb", "note", "estimate")


class UnknownRunError(UnknownNameError):
    kind = "benchmark run"
    listing = "Run `catalog bench list` to see the runs."


@dataclass
class RunRecord:
    id: int
    created_at: datetime
    finished_at: datetime | None
    status: str
    machine_id: str
    options: dict[str, Any]
    hardware: dict[str, Any]
    software: dict[str, Any]
    results: list[BenchResult] = field(default_factory=list)
    result_count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(timespec="seconds"),
            "finished_at": self.finished_at.isoformat(timespec="seconds") if self.finished_at else None,
            "status": self.status,
            "machine_id": self.machine_id,
            "models": self.options.get("models", []),
            "device": self.options.get("device"),
            "dtype": self.options.get("dtype"),
            "results": self.result_count,
            "options": self.options,
            "hardware": self.hardware,
            "software": self.software,
        }


PROCESS_KEY = "process"  # options[PROCESS_KEY]: the host and pid that run it, to find runs whose process died


def _this_process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _process_gone(process: dict[str, Any], started: datetime) -> bool:
    """Whether the process that started a run (on this host) no longer exists: its pid is free, or now belongs to
    a process created after the run began (pid reuse)."""
    import psutil

    pid = process.get("pid")
    if process.get("host") != socket.gethostname() or not isinstance(pid, int):
        return False  # another machine's run: only that machine can tell
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    return created > started.replace(tzinfo=UTC).timestamp() + 1.0


def close_dead_runs(db: Database) -> int:
    """Mark `interrupted` the runs still `running` whose process on this machine is gone; returns how many. Only
    reads unless there is one: listing runs takes no write lock."""
    from catalog.db.schema import benchmark_runs as runs

    with db.connect() as conn:
        running = conn.execute(
            select(runs.c.id, runs.c.options, runs.c.created_at).where(runs.c.status == "running")
        ).all()
    dead = [
        run_id
        for run_id, options, created_at in running
        if isinstance(process := (options or {}).get(PROCESS_KEY), dict) and _process_gone(process, created_at)
    ]
    if not dead:
        return 0

    def work() -> int:
        with db.session() as session:
            closed = session.scalars(
                select(BenchmarkRun).where(BenchmarkRun.id.in_(dead), BenchmarkRun.status == "running")
            ).all()
            for run in closed:
                run.status = "interrupted"
                run.finished_at = utcnow()
            return len(closed)

    return db.retrying(work, what="close the runs of dead processes")


def start_run(db: Database, options: dict[str, Any], hardware: dict[str, Any], software: dict[str, Any]) -> int:
    close_dead_runs(db)

    def work() -> int:
        with db.session() as session:
            run = BenchmarkRun(
                options=options | {PROCESS_KEY: _this_process()}, hardware=hardware, software=software,
                machine_id=hardware.get("machine_id", "unknown"),
            )  # fmt: skip
            session.add(run)
            session.flush()
            return run.id

    return db.retrying(work, what="start a benchmark run")


def update_software(db: Database, run_id: int, extra: dict[str, Any]) -> None:
    def work() -> None:
        with db.session() as session:
            run = session.get(BenchmarkRun, run_id)
            if run is not None:
                run.software = {**run.software, **extra}

    db.retrying(work, what="record the run's software")


def finish_run(db: Database, run_id: int, status: str) -> None:
    def work() -> None:
        with db.session() as session:
            run = session.get(BenchmarkRun, run_id)
            if run is not None:
                run.status = status
                run.finished_at = utcnow()

    db.retrying(work, what=f"mark run {run_id} {status}")


def save_result(db: Database, run_id: int, result: BenchResult) -> int:
    """Commit one result now (retried while another process holds the database); sets result.run_id and
    result.id."""
    result.run_id = run_id
    _complete_estimate(db, result)

    def work() -> int:
        with db.session() as session:
            row = BenchmarkResult(
                run_id=run_id,
                provenance=result.provenance,
                details={name: getattr(result, name) for name in DETAIL_FIELDS},
                **{name: getattr(result, name) for name in ROW_FIELDS},
            )
            session.add(row)
            session.flush()
            return row.id

    result.id = db.retrying(work, attempts=8, what=f"store a result of run {run_id}")
    return result.id


def _complete_estimate(db: Database, result: BenchResult) -> None:
    """Next to the measurement, what the cost model predicted for it from this machine's other runs (never from
    runs of the same model and shape). An annotation: it never stops a result from being stored."""
    terms = (result.estimate or {}).get("terms")
    if not terms or result.status != "ok" or "latency_ms" in (result.estimate or {}):
        return
    try:
        from catalog.costmodel import record

        result.estimate = record(db, result.model_id, result.batch_size, result.seq_len, result.dtype,
                                 result.device, terms)  # fmt: skip
    except Exception:
        result.estimate = {"terms": terms}


def _result_from_row(row: BenchmarkResult) -> BenchResult:
    data = {name: getattr(row, name) for name in ROW_FIELDS}
    data["metrics"], data["ci95"] = data["metrics"] or {}, data["ci95"] or {}
    data.update({k: v for k, v in (row.details or {}).items() if k in DETAIL_FIELDS})
    return BenchResult(**data, run_id=row.run_id, id=row.id)


def _record(run: BenchmarkRun, results: list[BenchResult] | None, count: int) -> RunRecord:
    return RunRecord(
        id=run.id, created_at=run.created_at, finished_at=run.finished_at, status=run.status,
        machine_id=run.machine_id, options=run.options, hardware=run.hardware, software=run.software,
        results=results or [], result_count=count,
    )  # fmt: skip


def list_runs(db: Database, limit: int = 20) -> list[RunRecord]:
    close_dead_runs(db)
    with db.session() as session:
        counts = select(BenchmarkResult.run_id, func.count().label("n")).group_by(BenchmarkResult.run_id).subquery()
        query = (
            select(BenchmarkRun, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.run_id == BenchmarkRun.id)
            .order_by(BenchmarkRun.id.desc())
        )
        if limit:
            query = query.limit(limit)
        return [_record(run, None, int(n)) for run, n in session.execute(query)]


def get_run(db: Database, run_id: int) -> RunRecord:
    close_dead_runs(db)
    with db.session() as session:
        run = session.get(BenchmarkRun, run_id) if 0 < run_id < 2**63 else None
        if run is None:
            ids = [str(i) for i in session.scalars(select(BenchmarkRun.id).order_by(BenchmarkRun.id.desc()).limit(50))]
            raise UnknownRunError(str(run_id), ids)
        results = [_result_from_row(row) for row in run.results]
        return _record(run, results, len(results))


def reported_metrics(db: Database, model_id: str, task_id: str | None, measured: dict[str, Any]) -> dict[str, Any]:
    """What the catalog reports (model card, paper) for the measured metric names of this model and task, on the
    measured scale (fractions; perplexity raw), with the delta measured - reported. Empty when nothing matches."""
    from catalog.db.models import ReportedMetric
    from catalog.recommend.scoring import LOWER_IS_BETTER, as_fraction

    with db.session() as session:
        rows = session.scalars(select(ReportedMetric).where(ReportedMetric.model_id == model_id)).all()
        found: dict[str, Any] = {}
        for row in rows:
            name = row.metric.lower()
            if name not in measured or (task_id and row.task_id and row.task_id != task_id):
                continue
            value = float(row.value) if name in LOWER_IS_BETTER else as_fraction(name, float(row.value), row.scale)
            if value is None or measured[name] is None:
                continue
            found[name] = {"value": value, "delta": float(measured[name]) - value, "dataset": row.dataset,
                           "split": row.split, "source": row.source, "verified": row.verified}  # fmt: skip
        return found
