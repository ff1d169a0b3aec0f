"""Import every published-results file in ../shared/evidence (the upstream formats the importers read), as a user
would with `catalog evidence import PATH` one source at a time. For tests and benchmarks only: nothing is copied."""

from __future__ import annotations

from pathlib import Path

from catalog.db.engine import Database

SOURCES = (
    "mteb-results",
    "open-llm-leaderboard-v1/20230904.csv",
    "open-asr-leaderboard/en_longform.csv",
    "open-asr-leaderboard/multilingual.csv",
    "spacy-models/meta",
    "tner/MODEL_CARD.md",
    "model-cards-2022",
)


def import_shared_evidence(db: Database, root: Path) -> dict[str, int]:
    """Rows imported per source under `root` (the ../shared/evidence directory)."""
    from catalog.evidence.api import import_evidence

    return {source: import_evidence(db, str(root / source)).rows_imported for source in SOURCES}
