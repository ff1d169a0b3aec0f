"""Front-door speed at scale: prints the median wall and CPU time of `catalog recommend --task ner` on the real
snapshot DB (9,715 models) and on a synthetic 1,000,000-model DB (goals: under 0.5 s and under 2 s). Printed, not
asserted. Run: pytest tests/perf -s -q   (CATALOG_PERF_RECOMMEND_MODELS changes the synthetic size;
CATALOG_PERF_RECOMMEND_DB=PATH builds the synthetic DB at PATH once and reuses it: building 1M models takes a
minute)"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from catalog.db import open_database
from catalog.hub.sync import import_snapshot

from ..conftest import require_shared

N_MODELS = int(os.environ.get("CATALOG_PERF_RECOMMEND_MODELS", "1000000"))
REUSED_DB = os.environ.get("CATALOG_PERF_RECOMMEND_DB")
RUNS = 5


def _synthetic(path: Path, n: int) -> None:
    """n models spread over the taxonomy's tasks, with licenses, languages, sizes and dates, written with the
    database's own schema (created by open_database) through plain executemany for speed."""
    db = open_database(f"sqlite:///{path}")
    with db.session() as session:
        from sqlalchemy import select

        from catalog.db.models import Task

        tasks = list(session.scalars(select(Task.id)))
    db.dispose()
    rng = random.Random(11)
    licenses = ["apache-2.0", "mit", "cc-by-4.0", "other", "llama3", "cc-by-nc-4.0", "gpl-3.0", None]
    languages = ["en", "zh", "de", "fr", "es", "ja", "ru", "ar"]
    families = [("bert", "encoder-only"), ("gpt2", "decoder-only"), ("t5", "encoder-decoder"), ("llama", "decoder-only"),
                (None, None)]  # fmt: skip
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-11-01 00:00:00"
    batch = 50_000
    for start in range(0, n, batch):
        models, model_tasks, model_languages = [], [], []
        for i in range(start, min(start + batch, n)):
            model_id = f"org{i % 5000}/model-{i:07d}"
            task = rng.choice(tasks)
            family, arch = rng.choice(families)
            params = int(10 ** rng.uniform(6.5, 10.5)) if rng.random() < 0.8 else None
            downloads = int(10 ** rng.uniform(0, 6.5))
            stamp = f"202{rng.randint(2, 4)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} 00:00:00"
            models.append((model_id, task, family, arch, params, rng.choice(licenses), downloads, stamp, now, now))
            model_tasks.append((model_id, task, 0))
            for position, code in enumerate(rng.sample(languages, rng.choice((0, 1, 1, 2)))):
                model_languages.append((model_id, code, position))
        con.executemany(
            "INSERT INTO models (id, pipeline_tag, family_id, architecture_id, params, license, downloads, "
            "hub_last_modified, synced_at, created_at, updated_at, gated, api_only, curated, description, source, "
            "provenance, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, '', 'synthetic', '{}', '[]')",
            [m + (now,) for m in models],
        )
        con.executemany("INSERT INTO model_tasks (model_id, task_id, position) VALUES (?, ?, ?)", model_tasks)
        con.executemany("INSERT INTO model_languages (model_id, language, position) VALUES (?, ?, ?)", model_languages)
        con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()


@pytest.mark.perf
def test_recommend_wall_time_at_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = require_shared("hub/hf_models_2024-09-20.csv")
    snapshot = tmp_path / "snapshot.db"
    db = open_database(f"sqlite:///{snapshot}")
    import_snapshot(db, csv_path)
    db.dispose()
    build = time.perf_counter()
    big = Path(REUSED_DB) if REUSED_DB else tmp_path / "synthetic.db"
    reused = big.exists()  # a DB built by an earlier run (CATALOG_PERF_RECOMMEND_DB), whatever its size
    if not reused:
        _synthetic(big, N_MODELS)
    build_s = time.perf_counter() - build
    env = dict(os.environ) | {"CATALOG_DATA_DIR": str(tmp_path)}
    # a first run fills the data dir's caches (the JSON copies of licenses.yaml and metrics.yaml): not measured
    subprocess.run([sys.executable, "-m", "catalog", "recommend", "--db", f"sqlite:///{snapshot}", "--task", "ner"],
                   env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    with sqlite3.connect(big) as con:
        size = con.execute("SELECT count(*) FROM models").fetchone()[0]
    figures = {
        "snapshot (9,715 models)": _median_with_cpu(
            ["recommend", "--db", f"sqlite:///{snapshot}", "--task", "ner"], env
        ),
        f"synthetic ({size:,} models)": _median_with_cpu(
            ["recommend", "--db", f"sqlite:///{big}", "--task", "ner"], env
        ),
        f"synthetic ({size:,} models), --language zh --license mit --max-params 1B": _median_with_cpu(
            [
                "recommend",
                "--db",
                f"sqlite:///{big}",
                "--task",
                "ner",
                "--language",
                "zh",
                "--license",
                "mit",
                "--max-params",
                "1B",
            ],
            env,
        ),
    }
    with capsys.disabled():
        print(f"\n[perf] {'reused' if reused else 'built'} the synthetic DB in {build_s:.0f} s")
        for name, (median, best, cpu) in figures.items():
            print(f"[perf] catalog recommend --task ner, {name}: median {median:.3f} s, best {best:.3f} s, CPU "
                  f"{cpu:.3f} s over {RUNS} runs (goals: < 0.5 s snapshot, < 2 s at 1M)")  # fmt: skip
        print(f"[perf] load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def _median_with_cpu(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Median and best wall time, and the median CPU time (user + system) of the command: the CPU figure is what
    the command costs, whatever else the machine runs at the time."""
    import resource

    walls, cpus = [], []
    # one unmeasured run first: a command's first use fills the data dir's caches (the latency table for its task
    # and shape, the JSON copies of licenses.yaml and metrics.yaml); the goal is for every run after it
    subprocess.run([sys.executable, "-m", "catalog", *args], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "catalog", *args], env=env, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), min(walls), statistics.median(cpus)


@pytest.mark.perf
def test_recommend_wall_time_with_all_evidence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`catalog recommend --task ner` on the snapshot with every file of ../shared/evidence imported (goal: under
    0.5 s): the accuracy component then reads the task's evidence rows and places them on its benchmarks."""
    from sqlalchemy import func, select

    from catalog.db.schema import evidence

    from ..support.shared_evidence import import_shared_evidence

    csv_path = require_shared("hub/hf_models_2024-09-20.csv")
    root = require_shared("evidence")
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    db = open_database(bare)
    import_snapshot(db, csv_path)
    db.dispose()
    url = f"sqlite:///{tmp_path / 'evidence.db'}"
    db = open_database(url)
    import_snapshot(db, csv_path)
    imported = import_shared_evidence(db, root)
    with db.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(evidence))
    db.dispose()
    env = dict(os.environ) | {"CATALOG_DATA_DIR": str(tmp_path)}
    figures = {
        "ner, snapshot without evidence (for comparison)": _median_with_cpu(
            ["recommend", "--db", bare, "--task", "ner"], env
        )
    }
    figures |= {
        " ".join([task, *extra]) + ", snapshot + all evidence": _median_with_cpu(
            ["recommend", "--db", url, "--task", task, *extra], env
        )
        for task, extra in (
            ("ner", []),
            ("ner", ["--profile", "accurate"]),
            ("text-generation", []),
            ("feature-extraction", []),
        )
    }
    with capsys.disabled():
        print(f"\n[perf] evidence imported: {rows:,} rows ({', '.join(f'{k} {v:,}' for k, v in imported.items())})")
        for task, (median, best, cpu) in figures.items():
            print(f"[perf] catalog recommend --task {task}: median {median:.3f} s, best {best:.3f} s, CPU "
                  f"{cpu:.3f} s over {RUNS} runs (goal for ner: < 0.5 s)")  # fmt: skip
        print(f"[perf] load average while measuring: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
