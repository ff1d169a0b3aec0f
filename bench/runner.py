"""Model x shape loop. Each model runs in its own "spawn" process with a timeout and a memory guard; its results
stream back through a Pipe and are stored the moment they arrive. A model's process is started before the model
is known (see bench.worker): the first one when the run starts (the CLI starts it before it opens the database),
the next one as soon as the previous model's process has exited, so the seconds of torch and transformers imports
overlap the parent's own work instead of following it. A model that fails to load, runs out of memory,
crashes or times out is recorded with the reason, and the next model still runs. Ctrl-C (or SIGTERM) stops the
current model and keeps every finished result; the run is marked interrupted, or failed when an error ends it,
on every way out (a run whose process is killed outright is closed by bench.store.close_dead_runs).

The parent blocks in multiprocessing.connection.wait() on the pipe and the process sentinel until a message, the
child's exit or the deadline, so it takes no CPU away from the measurement (a sleep-poll loop on a 2-core machine
visibly inflates latency).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from bench import worker
from bench.resolve import resolve
from bench.results import BenchResult
from bench.spec import BenchSpec, ModelJob
from catalog.errors import CatalogError

Event = Callable[..., None]
DEFAULT_MEMORY_FRACTION = 0.9


@dataclass
class RunOutcome:
    """What `catalog bench run` produced: every result (also the failed ones) and how the run ended."""

    run_id: int | None
    results: list[BenchResult] = field(default_factory=list)
    status: str = "finished"
    unsaved: list[str] = field(default_factory=list)  # why results could not be stored (they are in `results`)
    eval_refused: str | None = None  # why the evaluation data was refused (a file that cannot be read or parsed)
    hardware: dict[str, Any] = field(default_factory=dict)
    software: dict[str, Any] = field(default_factory=dict)

    @property
    def interrupted(self) -> bool:
        return self.status == "interrupted"

    def to_output(self) -> list[dict[str, Any]]:
        return [r.to_output() for r in self.results]


def _default_memory_limit_mb() -> float:
    import psutil

    return float(psutil.virtual_memory().available) / 2**20 * DEFAULT_MEMORY_FRACTION


def _describe_exit(exitcode: int | None) -> tuple[str, str]:
    if exitcode == worker.OOM_EXIT:
        return "oom", "the memory guard stopped the process"
    if exitcode is not None and exitcode < 0:
        signum = -exitcode
        name = signal.Signals(signum).name if signum in signal.Signals.__members__.values() else str(signum)
        if signum == signal.SIGKILL:
            return "oom", "killed by SIGKILL (most likely the kernel's out-of-memory killer)"
        return "failed", f"the process died from signal {name}"
    return "failed", f"the process exited with status {exitcode} before reporting results"


class WorkerProcess:
    """One model's process, started before its job is known, and the pipes to it: `assign` hands it a job once
    (a second model gets a fresh process). Stopping a process that never got a job costs nothing but its imports.
    A context manager: leaving it stops the process if it is still there."""

    def __init__(self, *, backend: str = "transformers", threads: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self.backend = backend
        self.threads = threads
        self.assigned = False
        self.connection, child_end = context.Pipe(duplex=False)
        inbox, self._outbox = context.Pipe(duplex=False)
        self.process = context.Process(
            target=worker.main,
            args=(child_end, inbox, {"backend": backend, "threads": threads}),
            name="bench-worker",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        inbox.close()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def fits(self, backend: str, threads: int | None) -> bool:
        """Whether this process can take a job of a run with these settings (it set its threads at start)."""
        return not self.assigned and self.backend == backend and self.threads == threads

    def assign(self, job: ModelJob, settings: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        """Send the job. Pickled here (an error surfaces in the parent), written by a short-lived thread: a payload
        larger than the pipe's buffer (an evaluation set) would otherwise block until the child has finished its
        imports, and the timeout must count from now."""
        from multiprocessing.reduction import ForkingPickler

        self.assigned = True
        data = bytes(ForkingPickler.dumps({"job": job.to_dict(), "settings": settings, **(extra or {})}))
        self.process.name = f"bench-{job.model_id}"[:60]

        def write() -> None:
            with contextlib.suppress(OSError, ValueError):  # the child died or was stopped: its sentinel tells
                self._outbox.send_bytes(data)

        threading.Thread(target=write, name="bench-job-sender", daemon=True).start()

    def messages(self, timeout_s: float) -> Any:
        """Yield the child's messages; ends on EOF. Raises TimeoutError at the deadline. Blocks, never polls."""
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready = wait([self.connection, self.process.sentinel], timeout=remaining)
            if not ready:
                raise TimeoutError
            if self.connection in ready or self.connection.poll():
                try:
                    yield self.connection.recv()
                except (EOFError, OSError):
                    return
            else:  # exited without closing its end cleanly: drain whatever is left
                while self.connection.poll():
                    try:
                        yield self.connection.recv()
                    except (EOFError, OSError):
                        return
                return

    def stop(self) -> int | None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)
        self.connection.close()
        self._outbox.close()
        return self.process.exitcode


def run_benchmark(
    spec: BenchSpec,
    *,
    db: Any = None,
    store: bool = True,
    backend: str = "transformers",
    on_event: Event | None = None,
    peak_gflops: dict[str, float] | None = None,
    worker_process: WorkerProcess | None = None,
) -> RunOutcome:
    """Benchmark every model of `spec`; results are stored in `db` (the configured database when None) as they
    arrive, unless store=False. `worker_process`: one started earlier (by the caller, before its own setup) for the
    first model; it is stopped when it does not fit the run's backend and threads."""
    from catalog import hardware

    if worker_process is not None and not worker_process.fits(backend, spec.threads):
        worker_process.stop()
        worker_process = None
    spare: WorkerProcess | None = worker_process or WorkerProcess(backend=backend, threads=spec.threads)
    emit: Event = on_event or (lambda *args, **kwargs: None)
    try:
        hardware_facts = hardware.fingerprint()
        software = hardware.software() | {"threads": spec.threads, "dtype": spec.dtype, "device": spec.device}
        if peak_gflops is None:
            cached = hardware.cached_peaks(spec.device, spec.threads)
            peak_gflops = dict(cached["gflops"]) if cached else {}
        task = spec.task
        database = None
        if store:
            from bench import store as result_store
            from catalog.db import open_database

            database = db or open_database()
            if task:
                from catalog.queries import resolve_task

                with database.session() as session:
                    task = resolve_task(session, task)
            options = spec.to_dict() | {"task": task, "backend": backend, "peak_gflops": peak_gflops}
            run_id: int | None = result_store.start_run(database, options, hardware_facts, software)
        else:
            run_id = None
    except BaseException:
        if spare is not None:
            spare.stop()
        raise
    outcome = RunOutcome(run_id, hardware=hardware_facts, software=software)
    memory_limit = spec.memory_limit_mb or _default_memory_limit_mb()
    settings = {
        "backend": backend, "device": spec.device, "dtype": spec.dtype, "threads": spec.threads,
        "budget_s": spec.budget_s, "target_rel": spec.target_rel, "min_iterations": spec.min_iterations,
        "warmup_iterations": spec.warmup_iterations, "new_tokens": spec.new_tokens, "image_size": spec.image_size,
        "audio_seconds": spec.audio_seconds, "memory_limit_mb": memory_limit, "allow_pickle": spec.allow_pickle,
        "trust_remote_code": spec.trust_remote_code, "peak_gflops": peak_gflops,
    }  # fmt: skip

    def record(result: BenchResult) -> None:
        if database is not None and run_id is not None:
            from bench import store as result_store

            try:
                result_store.save_result(database, run_id, result)
            except CatalogError as exc:  # retried and still refused: keep the measurement, say it is not stored
                outcome.unsaved.append(f"{result.model_id} {result.batch_size}x{result.seq_len}: {exc}")
        outcome.results.append(result)
        emit("result", result=result)

    def record_all(job_or_name: ModelJob | str, shapes: list[tuple[int, int]], status: str, error: str) -> None:
        name = job_or_name.model_id if isinstance(job_or_name, ModelJob) else job_or_name
        job_task = job_or_name.task if isinstance(job_or_name, ModelJob) else task
        weights = (
            job_or_name.weights if isinstance(job_or_name, ModelJob) else ("random" if spec.no_weights else "real")
        )
        for b, s in shapes:
            record(BenchResult(model_id=name, task_id=job_task, batch_size=b, seq_len=s, device=spec.device,
                               dtype=spec.dtype, weights=weights, status=status, error=error))  # fmt: skip

    evaluations = _Evaluations(spec, database)

    def record_eval(job_or_name: ModelJob | str, status: str, error: str) -> None:
        name = job_or_name.model_id if isinstance(job_or_name, ModelJob) else job_or_name
        job_task = job_or_name.task if isinstance(job_or_name, ModelJob) else task
        weights = job_or_name.weights if isinstance(job_or_name, ModelJob) else "real"
        assert spec.evaluation is not None
        record(BenchResult(model_id=name, task_id=job_task, batch_size=spec.evaluation.batch_size, seq_len=0,
                           device=spec.device, dtype=spec.dtype, weights=weights, status=status, error=error,
                           eval_set=spec.evaluation.label))  # fmt: skip

    previous_sigterm = _interrupt_on_sigterm()
    try:
        for index, name in enumerate(spec.models):
            emit("model", model=name, index=index, total=len(spec.models))
            if backend == "transformers":
                try:
                    job = resolve(name, task=task, no_weights=spec.no_weights, shapes=spec.shapes,
                                  allow_pickle=spec.allow_pickle)  # fmt: skip
                except CatalogError as exc:
                    record_all(name, spec.shapes, "failed", str(exc))
                    if spec.evaluation:
                        record_eval(name, "failed", str(exc))
                    continue
                job.tokenizer = spec.tokenizer
            else:  # a test or plug-in backend resolves its own names
                job = ModelJob(name, task or "feature-extraction", "random", shapes=tuple(spec.shapes))
            extra: dict[str, Any] = {}
            model_settings = settings
            if spec.evaluation:
                try:
                    extra = evaluations.payload(job)
                    model_settings = settings | {"evaluation": spec.evaluation.to_dict()}
                except Exception as exc:  # the latency shapes still run; the evaluation row says why it failed
                    from bench.evalsets import EvalSetError

                    reason = str(exc) if isinstance(exc, CatalogError) else f"{type(exc).__name__}: {exc}"[:500]
                    if not isinstance(exc, CatalogError) or isinstance(exc, EvalSetError):
                        reason = f"evaluation data refused: {reason}"
                        outcome.eval_refused = outcome.eval_refused or reason
                    record_eval(job, "failed", reason)
            child, spare = spare or WorkerProcess(backend=backend, threads=spec.threads), None
            _run_one(child, job, spec, model_settings, record, record_all, emit, outcome, database, run_id, extra,
                     record_eval if extra else None, evaluations)  # fmt: skip
            if index + 1 < len(spec.models):  # the next model's imports overlap resolving it
                spare = WorkerProcess(backend=backend, threads=spec.threads)
    except KeyboardInterrupt:
        outcome.status = "interrupted"
    except BaseException:
        outcome.status = "failed"
        raise
    finally:
        _restore_sigterm(previous_sigterm)
        if spare is not None:
            spare.stop()
        if database is not None and run_id is not None:
            from bench import store as result_store

            result_store.finish_run(database, run_id, outcome.status)
    return outcome


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _interrupt_on_sigterm() -> Any:
    """SIGTERM (kill, a CI timeout, a service stop) ends the run as Ctrl-C does: the current model stops, the
    finished results stay and the run is marked interrupted. Only the main thread can install the handler."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def _restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _run_one(
    child: WorkerProcess,
    job: ModelJob,
    spec: BenchSpec,
    settings: dict[str, Any],
    record: Callable[[BenchResult], None],
    record_all: Callable[..., None],
    emit: Event,
    outcome: RunOutcome,
    database: Any,
    run_id: int | None,
    extra: dict[str, Any] | None = None,
    record_eval: Callable[..., None] | None = None,
    evaluations: Any = None,
) -> None:
    pending = list(job.shapes)
    eval_pending = record_eval is not None
    child.assign(job, settings, extra)
    finished = False

    def fail_eval(status: str, error: str) -> None:
        nonlocal eval_pending
        if eval_pending and record_eval is not None:
            record_eval(job, status, error)
        eval_pending = False

    try:
        for message in child.messages(spec.model_timeout_s()):
            kind = message.get("kind")
            if kind == "hello":
                outcome.software.update(message["software"])
                if database is not None and run_id is not None:
                    from bench import store as result_store

                    result_store.update_software(database, run_id, message["software"])
            elif kind == "loaded":
                job.task = message.get("task") or job.task
                emit("loaded", model=job.model_id, load_time_s=message["load_time_s"])
            elif kind == "result":
                result = BenchResult.from_dict(message["result"])
                if pending:  # results arrive in shape order (seq_len may come back capped)
                    pending.pop(0)
                record(result)
            elif kind == "eval":
                result = BenchResult.from_dict(message["result"])
                if evaluations is not None:
                    result.reported = evaluations.reported(result)
                eval_pending = False
                record(result)
            elif kind == "failed":
                record_all(job, pending, message.get("status", "failed"), message.get("error", "unknown error"))
                fail_eval(message.get("status", "failed"), message.get("error", "unknown error"))
                pending = []
                finished = True
            elif kind == "done":
                finished = True
    except TimeoutError:
        child.stop()
        record_all(job, pending, "timeout", f"timed out after {spec.model_timeout_s():g} s (raise --timeout-s)")
        fail_eval("timeout", f"timed out after {spec.model_timeout_s():g} s (raise --timeout-s, or lower --limit)")
        return
    except KeyboardInterrupt:
        child.stop()
        record_all(job, pending, "interrupted", "interrupted (Ctrl-C) before this shape finished")
        fail_eval("interrupted", "interrupted (Ctrl-C) before the evaluation finished")
        raise
    except BaseException:
        child.stop()
        raise
    exitcode = child.stop()
    if (pending or eval_pending) and not finished:
        status, reason = _describe_exit(exitcode)
        record_all(job, pending, status, reason)
        fail_eval(status, reason)
    elif pending:
        record_all(job, pending, "failed", "the worker finished without reporting this shape")
    fail_eval("failed", "the worker finished without reporting the evaluation")


class _Evaluations:
    """The evaluation set of a run, loaded and checksum-verified once per data task in the parent (so a missing or
    corrupt set fails before any model loads), and what the catalog reports for each model."""

    def __init__(self, spec: BenchSpec, database: Any) -> None:
        self.spec = spec
        self.database = database
        self.loaded: dict[str, tuple[Any, dict[str, Any]]] = {}

    def _load(self, data_task: str) -> tuple[Any, dict[str, Any]]:
        from bench import evalsets

        assert self.spec.evaluation is not None
        ev = self.spec.evaluation
        if data_task not in self.loaded:
            # perplexity reads the text from its start; --limit counts tokens there, not sampled lines
            limit = None if data_task == "text-generation" else ev.limit
            if ev.file:
                evalset = evalsets.from_file(
                    ev.file, data_task, text_column=ev.text_column, label_column=ev.label_column,
                    text_pair_column=ev.text_pair_column, reference=ev.reference_file, limit=limit, seed=ev.seed,
                )  # fmt: skip
                digests = sorted(evalset.file_sha256.values())
            else:
                evalset = evalsets.load(str(ev.name), limit=limit, seed=ev.seed)
                digests = sorted(f.sha256 for f in evalset.spec.data_files)
            checksum = digests[0] if len(digests) == 1 else _combined_sha256(digests)
            meta = {"eval_set": ev.label, "eval_checksum": checksum, "eval_license": evalset.spec.license,
                    "describe": evalset.describe()}  # fmt: skip
            self.loaded[data_task] = (evalset, meta)
        return self.loaded[data_task]

    def available_tasks(self) -> tuple[str, ...]:
        from bench import evalsets

        assert self.spec.evaluation is not None
        if self.spec.evaluation.file:
            return ()
        return evalsets.get(str(self.spec.evaluation.name)).tasks

    def payload(self, job: ModelJob) -> dict[str, Any]:
        from bench.tasks import DATA_TASKS, data_task_for

        assert self.spec.evaluation is not None
        if job.weights == "random" and not self.spec.evaluation.allow_random:
            raise CatalogError(
                f"{job.model_id} has random weights: its accuracy would say nothing about quality. Add "
                "--allow-random-eval for a chance-level sanity check."
            )
        available = self.available_tasks() or DATA_TASKS.get(job.task, (job.task,))[:1]
        data_task = data_task_for(job.task, available)
        evalset, meta = self._load(data_task)
        return {"evalset": evalset, "eval_meta": meta}

    def reported(self, result: BenchResult) -> dict[str, Any]:
        """The catalog's reported figures for this model and task, next to the measured ones, with the delta."""
        if self.database is None or not result.metrics:
            return {}
        from bench.store import reported_metrics

        return reported_metrics(self.database, result.model_id, result.task_id, result.metrics)


def _combined_sha256(digests: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(digests).encode()).hexdigest()
