"""Several catalog processes on one database at once, as a busy team uses it: every command succeeds, nothing
measured is lost, no run stays `running`, and the database stays intact. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text

from catalog.db import open_database, schema
from catalog.db.engine import HEAD_REVISION
from catalog.db.models import BenchmarkResult, BenchmarkRun, CatalogMeta
from tests.bench.helpers import FAKE_BACKEND
from tests.conftest import REPO_ROOT
from tests.support.hub_server import FakeHub, HubServer

TASK = "text-classification"
PROCESS_TIMEOUT_S = 240

# One bench run in its own process: the fake backend (no torch) still runs each model in a worker process and
# stores every shape's result through bench.store, as `catalog bench run` does.
BENCH_SCRIPT = """
import json, sys
from bench.runner import run_benchmark
from bench.spec import BenchSpec
from catalog.db import open_database, schema

db = open_database(sys.argv[1])
spec = BenchSpec(models=tuple(sys.argv[3:]), batch_sizes=(1, 2), seq_lens=(8,), budget_s=0.2, min_iterations=3,
                 timeout_s=120, memory_limit_mb=1000)
outcome = run_benchmark(spec, db=db, backend=sys.argv[2])
print(json.dumps({"run_id": outcome.run_id, "status": outcome.status, "unsaved": outcome.unsaved,
                  "results": [[r.status, r.id] for r in outcome.results]}))
"""


def _record(model_id: str, downloads: int) -> dict[str, Any]:
    return {
        "id": model_id,
        "pipeline_tag": TASK,
        "tags": ["transformers", "bert", "text-classification", "license:apache-2.0", "en"],
        "downloads": downloads,
        "likes": downloads % 97,
        "lastModified": "2024-05-01T00:00:00.000Z",
        "config": {"model_type": "bert"},
    }


def _snapshot(path: Path, ids: range) -> set[str]:
    names = [f"team{i % 40}/classifier-{i}" for i in ids]
    with path.open("w", encoding="utf-8") as handle:
        for i, name in zip(ids, names, strict=True):
            handle.write(json.dumps(_record(name, 10_000 + i)) + "\n")
    return set(names)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ) | extra
    env.pop("HF_HUB_OFFLINE", None)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _catalog(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "catalog", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], what: str) -> str:
    try:
        out, err = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{what} did not finish in {PROCESS_TIMEOUT_S} s: {err[-2000:]}")
    assert proc.returncode == 0, f"{what} failed ({proc.returncode}): {err[-2000:]}"
    assert "Error" not in err, f"{what}: {err[-2000:]}"
    return out


def test_imports_sync_bench_runs_and_recommend_at_once_on_a_new_database(db_url: str, tmp_path: Path) -> None:
    expected_a = _snapshot(tmp_path / "a.jsonl", range(0, 500))
    expected_b = _snapshot(tmp_path / "b.jsonl", range(250, 750))  # half of it overlaps a.jsonl
    hub = FakeHub.from_records(_record(f"hub{i % 30}/model-{i}", 1_000_000 - i) for i in range(1100))
    with HubServer(hub) as server:
        env = _env(CATALOG_DB_URL=db_url, HF_ENDPOINT=server.url)
        started = time.monotonic()
        # Everything starts together on a database that does not exist yet: one process migrates and seeds it,
        # the others wait for it and find it done (before, most of them failed with "database is locked", blamed
        # on the server, or on PostgreSQL with a duplicate key while creating the tables).
        workers = {
            "import a": _catalog("sync", "--from-snapshot", str(tmp_path / "a.jsonl"), "--format", "json", env=env),
            "import b": _catalog("sync", "--from-snapshot", str(tmp_path / "b.jsonl"), "--format", "json", env=env),
            "live sync": _catalog("sync", "--task", TASK, "--limit", "1050", "--format", "json", env=env),
        }
        for index in range(3):
            workers[f"bench {index}"] = subprocess.Popen(
                [sys.executable, "-c", BENCH_SCRIPT, db_url, FAKE_BACKEND, f"fake:ok{index}"],
                cwd=REPO_ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        recommendations = 0
        while recommendations < 3 or any(proc.poll() is None for proc in workers.values()):
            out = _finish(_catalog("recommend", "--task", TASK, "--limit", "5", "--format", "json", env=env),
                          "recommend")  # fmt: skip
            assert json.loads(out), "recommend returned no models"
            recommendations += 1
            assert time.monotonic() - started < 2 * PROCESS_TIMEOUT_S
        outputs = {name: _finish(proc, name) for name, proc in workers.items()}

    imports = [json.loads(outputs[name])["total"] for name in ("import a", "import b")]
    assert [item["skipped"] for item in imports] == [0, 0]
    assert sorted(item["inserted"] + item["updated"] + item["unchanged"] for item in imports) == [500, 500]
    live = json.loads(outputs["live sync"])["total"]
    assert live["inserted"] + live["updated"] + live["unchanged"] == 1050 and live["skipped"] == 0  # two pages
    bench = [json.loads(outputs[f"bench {index}"].strip().splitlines()[-1]) for index in range(3)]
    for run in bench:
        assert run["status"] == "finished" and run["unsaved"] == []
        assert [status for status, _ in run["results"]] == ["ok", "ok"]
        assert all(result_id is not None for _, result_id in run["results"])

    db = open_database(db_url, seed=False)
    with db.session() as session:
        ids = set(session.scalars(select(CatalogMeta.key)))
        assert "taxonomy_sha256" in ids
        models = set(session.scalars(select(schema.models.c.id)))
        assert expected_a | expected_b <= models
        assert sum(1 for m in models if m.startswith("hub")) == 1050
        runs = session.scalars(select(BenchmarkRun).order_by(BenchmarkRun.id)).all()
        assert sorted(run.id for run in runs) == sorted(run["run_id"] for run in bench)
        assert [run.status for run in runs] == ["finished"] * 3
        stored = session.scalar(select(func.count()).select_from(BenchmarkResult))
        assert stored == sum(len(run["results"]) for run in bench) == 6
        assert session.scalars(text("SELECT version_num FROM alembic_version")).all() == [HEAD_REVISION]
    db.dispose()
    if db_url.startswith("sqlite"):
        engine = create_engine(db_url)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        engine.dispose()


def test_a_writer_that_reads_first_waits_for_another_writer_instead_of_failing(tmp_path: Path) -> None:
    """A transaction that reads and then writes while another process writes: it must wait its turn. With
    deferred transactions SQLite answered 'database is locked' at once."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    first = open_database(url, seed=False)
    second = open_database(url, seed=False)
    errors: list[BaseException] = []
    other_started = threading.Event()

    def other_writer() -> None:
        try:
            other_started.set()
            with second.session() as session:
                session.merge(CatalogMeta(key="other", value="2"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with first.session() as session:
        session.execute(select(CatalogMeta)).all()  # read first ...
        thread = threading.Thread(target=other_writer)
        thread.start()
        other_started.wait()
        time.sleep(0.3)  # ... the other writer is now waiting for this transaction ...
        session.merge(CatalogMeta(key="first", value="1"))  # ... and this write still goes through
    thread.join(timeout=60)
    assert errors == []
    with first.session() as session:
        assert {"first", "other"} <= set(session.scalars(select(CatalogMeta.key)))
    first.dispose()
    second.dispose()


def test_a_run_whose_process_died_is_marked_interrupted(tmp_path: Path) -> None:
    from bench import store

    db = open_database(f"sqlite:///{tmp_path / 'dead.db'}", seed=False)
    run_id = store.start_run(db, {"models": ["x"]}, {"machine_id": "m"}, {})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with db.session() as session:  # as if that (now finished) process had started the run and was killed
        run = session.get(BenchmarkRun, run_id)
        assert run is not None and run.status == "running"
        run.options = run.options | {store.PROCESS_KEY: {"host": run.options[store.PROCESS_KEY]["host"],
                                                          "pid": dead.pid}}  # fmt: skip
    alive_id = store.start_run(db, {"models": ["y"]}, {"machine_id": "m"}, {})  # this process: alive
    statuses = {record.id: record.status for record in store.list_runs(db)}
    assert statuses == {run_id: "interrupted", alive_id: "running"}
    db.dispose()


def test_sigterm_ends_a_bench_run_as_interrupted_and_keeps_its_results(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'term.db'}"
    open_database(url, seed=False).dispose()
    proc = subprocess.Popen(
        [sys.executable, "-c", BENCH_SCRIPT, url, FAKE_BACKEND, "fake:ok", "fake:hang"],
        cwd=REPO_ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = open_database(url, seed=False)
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    stored = 0
    while stored < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        with db.session() as session:
            stored = session.scalar(select(func.count()).select_from(BenchmarkResult)) or 0
    assert stored == 2, proc.communicate()
    time.sleep(0.5)  # fake:hang is loading (it never finishes)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "interrupted"
    with db.session() as session:
        run = session.scalars(select(BenchmarkRun)).one()
        assert run.status == "interrupted" and run.finished_at is not None
        statuses = [r.status for r in session.scalars(select(BenchmarkResult).order_by(BenchmarkResult.id))]
        # fake:hang's shapes are recorded as interrupted when the signal came while it was loading (the usual case)
        assert statuses in (["ok", "ok", "interrupted", "interrupted"], ["ok", "ok"])
    db.dispose()


def test_retrying_repeats_transient_failures_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from sqlalchemy.exc import IntegrityError, OperationalError

    from catalog.db import engine as engine_module
    from catalog.errors import DatabaseUnavailableError

    monkeypatch.setattr(engine_module.time, "sleep", lambda seconds: None)
    db = open_database(f"sqlite:///{tmp_path / 'retry.db'}", seed=False)
    locked = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise locked
        return "stored"

    assert db.retrying(flaky) == "stored" and len(calls) == 3

    def always_locked() -> None:
        raise locked

    with pytest.raises(DatabaseUnavailableError, match="after 4 attempts: database is locked"):
        db.retrying(always_locked, attempts=4, what="store a result")

    def broken() -> None:
        calls.append(1)
        raise IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))

    calls.clear()
    with pytest.raises(IntegrityError):
        db.retrying(broken)
    assert len(calls) == 1  # a real error is not repeated
    db.dispose()


def test_after_a_command_the_database_file_alone_holds_every_commit(tmp_path: Path) -> None:
    """WAL mode keeps recent commits in a side file until a checkpoint: a finished command checkpoints it, so a
    copy of the database file (a backup) misses nothing."""
    import shutil
    import sqlite3

    expected = _snapshot(tmp_path / "few.jsonl", range(0, 50))
    path = tmp_path / "copy-me.db"
    _finish(_catalog("sync", "--from-snapshot", str(tmp_path / "few.jsonl"), env=_env(CATALOG_DB_URL=f"sqlite:///{path}")),
            "import")  # fmt: skip
    assert not Path(f"{path}-wal").exists()
    copy = tmp_path / "backup.db"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as conn:
        stored = {row[0] for row in conn.execute("SELECT id FROM models")}
    assert expected <= stored
