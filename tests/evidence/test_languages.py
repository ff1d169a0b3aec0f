"""Per-language benchmarks on real published results: the Open ASR Leaderboard's multilingual table
(../shared/evidence/open-asr-leaderboard/multilingual.csv, read in place) ranks ASR models for the language asked
for with --language, one language at a time, and for no language when none is asked for."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import insert

from catalog.db import open_database
from catalog.db.engine import Database
from catalog.db.schema import model_languages, model_tasks, models
from catalog.evidence.api import import_evidence
from catalog.recommend import explain, recommend
from tests.conftest import require_shared

TASK = "automatic-speech-recognition"
# three models of the leaderboard's multilingual table; the test reads their French WERs from the file itself
LEADERBOARD_MODELS = ("nvidia/canary-1b-v2", "mistralai/Voxtral-Mini-3B-2507", "openai/whisper-large-v3-turbo")


@pytest.fixture
def asr_db() -> Database:
    path = require_shared("evidence/open-asr-leaderboard/multilingual.csv")
    db = open_database()  # the shipped catalog.yaml and its ASR benchmarks
    with db.write() as conn:
        conn.execute(insert(models), [
            dict(id=model_id, pipeline_tag=TASK, family_id=None, architecture_id=None, params=None, license="mit",
                 downloads=1000 - 100 * i, likes=None, synced_at=datetime(2026, 1, 1), gated=False, api_only=False,
                 curated=False, base_model=None, description="", source="test", provenance={}, tags=[])
            for i, model_id in enumerate(LEADERBOARD_MODELS)
        ])  # fmt: skip
        conn.execute(insert(model_tasks), [dict(model_id=m, task_id=TASK, position=0) for m in LEADERBOARD_MODELS])
        conn.execute(insert(model_languages), [dict(model_id=m, language=code, position=p)
                                               for m in LEADERBOARD_MODELS for p, code in enumerate(("fr", "de"))])  # fmt: skip
    report = import_evidence(db, str(path))
    assert report.rows_imported > 0
    return db


def _french_wer(db: Database, model_id: str) -> dict[str, float]:
    from catalog.evidence.query import evidence_for_model

    with db.connect() as conn:
        return {r.dataset.rsplit("/", 1)[1]: r.value for r in evidence_for_model(conn, model_id)
                if r.dataset_config == "fr"}  # fmt: skip


def test_language_asked_for_ranks_on_that_languages_results(asr_db: Database) -> None:
    wer = {m: _french_wer(asr_db, m) for m in LEADERBOARD_MODELS}
    assert all(set(w) == {"covost", "mls", "fleurs"} for w in wer.values()), wer
    result = recommend(TASK, limit=0, db=asr_db, language=["fr"], profile="accurate")
    items = {item.model.id: item for item in result}
    for model_id in LEADERBOARD_MODELS:
        quality = items[model_id].to_dict()
        assert quality["accuracy"]["benchmark"] in {"OpenASR FLEURS fr", "OpenASR MLS fr", "OpenASR CoVoST 2 fr"}
    # each model's standing on each French set follows its WER there (lower is better)
    for dataset, name in (
        ("covost", "OpenASR CoVoST 2 fr"),
        ("mls", "OpenASR MLS fr"),
        ("fleurs", "OpenASR FLEURS fr"),
    ):
        by_wer = sorted(LEADERBOARD_MODELS, key=lambda m: wer[m][dataset])
        standings = [_standing(asr_db, m, name) for m in by_wer]
        assert standings == sorted(standings, reverse=True), (dataset, standings)
    explanation = explain("nvidia/canary-1b-v2", TASK, db=asr_db, language=["fr"]).to_dict()
    reasons = [row["reason"] for row in explanation["evidence_ignored"]]
    assert "another language: de on OpenASR FLEURS, asked for fr" in reasons


def _standing(db: Database, model_id: str, benchmark: str) -> float:
    used = explain(model_id, TASK, db=db, language=["fr"]).to_dict()["evidence_used"]
    return next(u["standing"] for u in used if u["benchmark"] == benchmark)


def test_without_a_language_the_per_language_results_rank_nothing(asr_db: Database) -> None:
    explanation = explain("nvidia/canary-1b-v2", TASK, db=asr_db).to_dict()
    used = {u["benchmark"] for u in explanation["evidence_used"]}
    assert used and not any(name.endswith((" fr", " de")) for name in used)  # the multilingual average still counts
    reasons = {row["reason"] for row in explanation["evidence_ignored"]}
    assert "per-language: OpenASR MLS fr counts with --language" in reasons
