"""One module per upstream format. Each exposes `FORMAT`, `detect(path) -> bool` and
`parse(location, context) -> Parsed` (a stream of typed records); the registry maps names to lazy module paths.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError, suggest

# name -> module, in detection order (the first whose detect() accepts a path wins)
FORMATS: dict[str, str] = {
    "mteb": "catalog.evidence.importers.mteb",
    "open-llm-leaderboard": "catalog.evidence.importers.openllm",
    "open-asr-leaderboard": "catalog.evidence.importers.openasr",
    "spacy-meta": "catalog.evidence.importers.spacy",
    "tner": "catalog.evidence.importers.tner",
    "lm-eval": "catalog.evidence.importers.lmeval",
    "model-card": "catalog.evidence.importers.modelcard",
    "generic": "catalog.evidence.importers.generic",
}


@dataclass(frozen=True)
class ImportContext:
    """What an importer may need from the catalog: task spellings -> task id, and the caller's choices."""

    task_names: dict[str, str] = field(default_factory=dict)
    kind: str | None = None  # --source: overrides the format's default source kind
    key: str | None = None  # --key: overrides the default source key
    name: str | None = None


def module(fmt: str) -> Any:
    if fmt not in FORMATS:
        hint = suggest(fmt, FORMATS)
        more = f" Did you mean: {', '.join(hint)}?" if hint else ""
        raise EvidenceError(f"Unknown evidence format '{fmt}'.{more} Known formats: {', '.join(FORMATS)}.")
    return importlib.import_module(FORMATS[fmt])


def detect(path: Path) -> str:
    """The format of a local file or directory, or EvidenceError saying how to name it."""
    if not path.exists():
        raise EvidenceError(f"{path}: no such file or directory. Check the path.")
    for fmt in FORMATS:
        if module(fmt).detect(path):
            return fmt
    raise EvidenceError(
        f"{path}: not a known evidence format. Name it with --format ({', '.join(FORMATS)}); "
        "see README.md, 'Quality evidence', for the generic CSV/JSONL columns."
    )


def read_text(path: Path) -> str:
    """A file's text (UTF-8, a BOM dropped), or EvidenceError."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise EvidenceError(f"{path}: cannot read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise EvidenceError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}). Save it as UTF-8.") from exc


def parse_date(value: Any) -> datetime | None:
    """An ISO date or datetime (naive UTC); None for empty or unparseable values."""
    if value in (None, ""):
        return None
    text = str(value).strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        from datetime import UTC

        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def source_key(fmt: str, location: str, context: ImportContext) -> str:
    return context.key or f"{fmt}:{location}"
