"""Sync throughput and memory: `catalog sync` (every task) from the local Hub server serving 100,000 synthetic
models into SQLite. Prints models/s end to end and the sync process's peak RSS (goals: >= 3,000 models/s; memory
flat, under 300 MB). Figures are printed, not asserted. Run: pytest tests/perf -s -q"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from catalog.taxonomy import load_taxonomy

from ..support.hub_server import FakeHub, HubServer, synthetic_records

N_MODELS = int(os.environ.get("CATALOG_PERF_SYNC_MODELS", "100000"))


def _records(n: int) -> list[dict]:  # type: ignore[type-arg]
    """Synthetic models, every one under a task of the taxonomy (so a plain `catalog sync` fetches them all)."""
    tasks = {t.id for t in load_taxonomy().tasks}
    out = []
    for record in synthetic_records(n, seed=3):
        if record["pipeline_tag"] not in tasks:
            old = record["pipeline_tag"]
            record["pipeline_tag"] = "text-classification"
            record["tags"] = [("text-classification" if t == old else t) for t in record["tags"]]
        out.append(record)
    return out


@pytest.mark.perf
def test_sync_throughput_and_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hub = FakeHub.from_records(_records(N_MODELS))
    samples: list[int] = []
    with HubServer(hub) as server:
        env = dict(os.environ) | {
            "HF_ENDPOINT": server.url,
            "CATALOG_DB_URL": f"sqlite:///{tmp_path / 'perf.db'}",
            "CATALOG_DATA_DIR": str(tmp_path),
        }
        env.pop("HF_HUB_OFFLINE", None)
        # Create and seed the database first, so the timing is the sync alone.
        subprocess.run([sys.executable, "-m", "catalog", "tasks", "--format", "json"], env=env, check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "catalog", "sync", "--format", "json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        watched = psutil.Process(proc.pid)
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                try:
                    samples.append(watched.memory_info().rss)
                except psutil.Error:
                    return
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out, err = proc.communicate(timeout=1800)
        elapsed = time.perf_counter() - start
        stop.set()
        sampler.join()
    assert proc.returncode == 0, err.decode()[-2000:]
    import json

    total = json.loads(out)["total"]
    stored = total["inserted"] + total["updated"] + total["unchanged"]
    assert stored == N_MODELS
    quarter = max(1, len(samples) // 4)
    with capsys.disabled():
        print(
            f"\n[perf] sync of {stored} models from the local Hub server into SQLite: {elapsed:.1f} s, "
            f"{stored / elapsed:,.0f} models/s end to end (goal >= 3,000)"
        )
        print(
            f"[perf] sync process RSS: peak {max(samples) / 2**20:.0f} MB; median of first quarter "
            f"{sorted(samples[:quarter])[quarter // 2] / 2**20:.0f} MB, of last quarter "
            f"{sorted(samples[-quarter:])[quarter // 2] / 2**20:.0f} MB (goal: flat, < 300 MB)"
        )
