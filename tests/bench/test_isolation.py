"""Each model in its own process: a model that raises, hangs past its timeout, passes its memory guard or crashes
is recorded with the reason, the others' results are kept and stored, and Ctrl-C keeps what finished."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bench.latency import DEFAULT_MIN_ITERATIONS
from bench.runner import run_benchmark
from bench.spec import BenchSpec
from catalog.db import open_database
from catalog.db.models import BenchmarkResult, BenchmarkRun
from tests.bench.helpers import FAKE_BACKEND


def _spec(*models: str, **overrides: object) -> BenchSpec:
    options: dict[str, object] = {
        "batch_sizes": (1, 2), "seq_lens": (8,), "budget_s": 0.5, "timeout_s": 6, "memory_limit_mb": 300,
    }  # fmt: skip
    options.update(overrides)
    return BenchSpec(models=models, **options)  # type: ignore[arg-type]


def test_failures_are_recorded_and_the_other_models_still_run(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'bench.db'}", seed=False)
    spec = _spec("fake:ok", "fake:raise", "fake:hang", "fake:alloc", "fake:crash", "fake:ok")
    outcome = run_benchmark(spec, db=db, backend=FAKE_BACKEND)
    by_model: dict[str, list[str]] = {}
    for result in outcome.results:
        by_model.setdefault(result.model_id, []).append(result.status)
    assert by_model == {
        "fake:ok": ["ok", "ok", "ok", "ok"],
        "fake:raise": ["failed", "failed"],
        "fake:hang": ["timeout", "timeout"],
        "fake:alloc": ["oom", "oom"],
        "fake:crash": ["failed", "failed"],
    }
    errors = {r.model_id: r.error for r in outcome.results if r.status != "ok"}
    assert "broken checkpoint" in errors["fake:raise"]
    assert "timed out after 6 s" in errors["fake:hang"]
    assert "memory guard" in errors["fake:alloc"] and "300 MiB" in errors["fake:alloc"]
    assert "status 3" in errors["fake:crash"]
    ok = [r for r in outcome.results if r.status == "ok"]
    assert all(r.latency_p50_ms and r.iterations and r.iterations >= DEFAULT_MIN_ITERATIONS for r in ok)
    assert all(len(r.samples_ms) == r.iterations for r in ok)
    # stored, one row per (model, shape), with the run's fingerprint
    with db.session() as session:
        run = session.scalars(select(BenchmarkRun)).one()
        assert run.status == "finished" and run.finished_at is not None
        assert run.machine_id == outcome.hardware["machine_id"]
        assert run.hardware["cpu_model"] and run.software["python"]
        assert run.software.get("fake_backend") is True  # what the worker reported (hello) is merged in
        rows = session.scalars(select(BenchmarkResult).order_by(BenchmarkResult.id)).all()
        assert [(r.model_id, r.status) for r in rows] == [(r.model_id, r.status) for r in outcome.results]
        assert rows[0].provenance.startswith("measured here") and f"run {run.id}" in rows[0].provenance
        assert rows[0].samples_ms == pytest.approx(ok[0].samples_ms)
    db.dispose()


def test_the_parent_blocks_instead_of_polling(tmp_path: Path) -> None:
    """While a model runs (here: hangs until its 4 s timeout) the parent uses almost no CPU."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    outcome = run_benchmark(_spec("fake:hang", batch_sizes=(1,), timeout_s=4), store=False, backend=FAKE_BACKEND)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert [r.status for r in outcome.results] == ["timeout"]
    assert elapsed >= 4
    assert cpu < 0.5, f"parent used {cpu:.2f} s of CPU while waiting {elapsed:.1f} s"


def test_ctrl_c_keeps_every_finished_result(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'bench.db'}", seed=False)
    seen: list[str] = []

    def on_event(kind: str, **data: object) -> None:
        if kind == "result":
            seen.append(str(data["result"].model_id))  # type: ignore[attr-defined]
            if len(seen) == 3:  # first model done (2 shapes), second model's first shape done
                raise KeyboardInterrupt

    outcome = run_benchmark(_spec("fake:ok", "fake:ok2", "fake:ok3"), db=db, backend=FAKE_BACKEND, on_event=on_event)
    assert outcome.interrupted
    statuses = [(r.model_id, r.status) for r in outcome.results]
    assert statuses[:3] == [("fake:ok", "ok"), ("fake:ok", "ok"), ("fake:ok2", "ok")]
    assert statuses[3:] == [("fake:ok2", "interrupted")]
    assert all(m != "fake:ok3" for m, _ in statuses)
    with db.session() as session:
        run = session.scalars(select(BenchmarkRun)).one()
        assert run.status == "interrupted"
        kept = [(r.model_id, r.status) for r in session.scalars(select(BenchmarkResult).order_by(BenchmarkResult.id))]
        assert kept == statuses
    db.dispose()


def test_a_worker_started_before_the_run_takes_the_first_model(tmp_path: Path) -> None:
    """The CLI starts the first model's process before it opens the database; the run hands it the first job and
    starts a fresh process for every further model."""
    from bench.runner import WorkerProcess

    spec = _spec("fake:ok", "fake:ok2", batch_sizes=(1,))
    with WorkerProcess(backend=FAKE_BACKEND) as early:
        outcome = run_benchmark(spec, store=False, backend=FAKE_BACKEND, worker_process=early)
        assert early.assigned and not early.process.is_alive()  # it took the first model's job, and is gone
    assert [(r.model_id, r.status) for r in outcome.results] == [("fake:ok", "ok"), ("fake:ok2", "ok")]


def test_a_started_worker_without_a_job_or_with_other_threads_is_stopped() -> None:
    from bench.runner import WorkerProcess

    idle = WorkerProcess(backend=FAKE_BACKEND)
    assert idle.stop() is not None and not idle.process.is_alive()
    other = WorkerProcess(backend=FAKE_BACKEND, threads=3)
    outcome = run_benchmark(_spec("fake:ok", batch_sizes=(1,)), store=False, backend=FAKE_BACKEND,
                            worker_process=other)  # fmt: skip
    assert not other.assigned and not other.process.is_alive()
    assert [r.status for r in outcome.results] == ["ok"]


def test_the_memory_sampler_sleeps_through_timed_iterations() -> None:
    """Inside quiet() the sampling thread does not wake (where the kernel keeps the peak); check() still guards."""
    from bench.memory import MemoryMonitor

    exceeded: list[float] = []
    monitor = MemoryMonitor(interval_s=0.001, limit_mb=1e9, on_exceed=exceeded.append)
    calls = 0
    sample = monitor._sample

    def counting() -> int:
        nonlocal calls
        calls += 1
        return sample()

    monitor._sample = counting  # type: ignore[method-assign]
    with monitor:
        time.sleep(0.05)
        assert calls > 5
        with monitor.quiet():
            time.sleep(0.01)  # a sample already under way may finish
            before = calls
            time.sleep(0.1)
            woke = calls - before
            monitor.limit_mb = 1
            assert not monitor.check()
        monitor.limit_mb = 1e9
        time.sleep(0.05)
        assert calls > before + woke + 1  # sampling again
    assert woke == (0 if monitor._kernel else woke)
    assert len(exceeded) == 1
