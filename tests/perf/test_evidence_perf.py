"""Evidence import and read speed on ../shared/evidence: seconds and values/s per source (MTEB's 7,237 files
should take seconds), then the Core read of one task's evidence that the recommend path makes, with everything
imported. Figures are printed, not asserted. Run: pytest tests/perf/test_evidence_perf.py -s -q -m perf"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from catalog.db import open_database
from catalog.evidence.api import import_evidence
from catalog.evidence.query import evidence_for_task
from tests.conftest import require_shared

SOURCES = (
    "evidence/mteb-results",
    "evidence/open-llm-leaderboard-v1/20230904.csv",
    "evidence/open-asr-leaderboard/en_longform.csv",
    "evidence/open-asr-leaderboard/multilingual.csv",
    "evidence/spacy-models/meta",
    "evidence/tner/MODEL_CARD.md",
    "evidence/model-cards-2022",
)
TASKS = ("token-classification", "text-generation", "automatic-speech-recognition", "feature-extraction")


@pytest.mark.perf
def test_import_and_read_speed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = [require_shared(relative) for relative in SOURCES]
    db = open_database(f"sqlite:///{tmp_path / 'perf.db'}")
    lines = []
    for path in paths:
        start = time.perf_counter()
        report = import_evidence(db, str(path))
        seconds = time.perf_counter() - start
        lines.append(
            f"import {report.source.format:22} {report.rows_imported:6d} of {report.rows_read:6d} values "
            f"{seconds:6.2f} s  {report.rows_read / seconds:8.0f} values/s"
        )
    for task in TASKS:
        timings = []
        for _ in range(5):
            with db.connect() as conn:
                start = time.perf_counter()
                rows = evidence_for_task(conn, task)
                timings.append(time.perf_counter() - start)
        count = sum(len(v) for v in rows.values())
        lines.append(
            f"read {task:30} {count:6d} rows {len(rows):5d} models  median {sorted(timings)[2] * 1000:6.1f} ms"
        )
    db.dispose()
    with capsys.disabled():
        print("\n" + "\n".join(lines))
