"""Start-up performance of the front door: prints the median wall time of `catalog tasks` and
`catalog recommend --task ner` on the embedded SQLite default (goal: under 0.5 s after the first run).

Figures are printed, not asserted: wall-clock limits make flaky tests. Run: pytest tests/perf -s -q
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

RUNS = 11


def _command() -> list[str]:
    script = Path(sys.executable).with_name("catalog")
    return [str(script)] if script.exists() else [shutil.which("catalog") or sys.executable, "-m", "catalog"]


def _median_seconds(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    times = []
    subprocess.run(_command() + args, env=env, check=True, stdout=subprocess.DEVNULL)  # first use fills caches
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(_command() + args, env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


@pytest.mark.perf
def test_startup_wall_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = dict(os.environ) | {"CATALOG_DATA_DIR": str(tmp_path)}
    start = time.perf_counter()
    subprocess.run(_command() + ["tasks"], env=env, check=True, stdout=subprocess.DEVNULL)
    first = time.perf_counter() - start
    results = {
        "catalog tasks": _median_seconds(["tasks"], env),
        "catalog recommend --task ner": _median_seconds(["recommend", "--task", "ner"], env),
        "catalog recommend --task ner --format json": _median_seconds(
            ["recommend", "--task", "ner", "--format", "json"], env
        ),
        "catalog --help": _median_seconds(["--help"], env),
    }
    with capsys.disabled():
        print(f"\n[perf] first run (create + migrate + seed SQLite): {first:.3f} s")
        for name, (median, best) in results.items():
            print(f"[perf] {name}: median {median:.3f} s, best {best:.3f} s over {RUNS} runs (goal < 0.5 s)")
