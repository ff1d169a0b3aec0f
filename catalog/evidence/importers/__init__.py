"""One module per upstream format. Each exposes `FORMAT`, `detect(path) -> bool` and
`parse(location, context) -> Parsed` (a stream of typed records); the registry maps names to lazy module paths.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError, suggest
from catalog.evidence.records import SourceInfo

# name -> module, in detection order (the first whose detect() accepts a path wins)
FORMATS: dict[str, str] = {
    "mteb": "catalog.evidence.importers.mteb",
    "open-llm-leaderboard": "catalog.evidence.importers.openllm",
    "open-asr-leaderboard": "catalog.evidence.importers.openasr",
    "spacy-meta": "catalog.evidence.importers.spacy",
    "tner": "catalog.evidence.importers.tner",
    "lm-eval": "catalog.evidence.importers.lmeval",
    "hub-eval-results": "catalog.evidence.importers.evalresults",
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
    model: str | None = None  # --model: the model a single-model source is about (.eval_results)
    # (task id, seeded benchmark record) for every task: a bare value on a listed dataset takes its metric
    benchmarks: tuple[tuple[str, dict[str, Any]], ...] = ()


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


def source_info(
    fmt: str,
    location: str,
    context: ImportContext,
    *,
    kind: str,
    name: str,
    revision: str | None = None,
    published_at: datetime | None = None,
) -> SourceInfo:
    """The source an import reads: the format's default kind and name, unless the caller chose others."""
    return SourceInfo(
        key=source_key(fmt, location, context),
        kind=context.kind or kind,
        name=context.name or name,
        format=fmt,
        location=location,
        revision=revision,
        published_at=published_at,
    )


def csv_records(path: Path, *, lower: bool = False) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """A CSV file's header (stripped and lower-cased with `lower`) and its rows with their line numbers, blank
    lines skipped; EvidenceError for an empty file, or (while reading) for a row whose field count is not the
    header's (a truncated or malformed file: nothing is imported)."""
    import csv
    import io

    reader = csv.reader(io.StringIO(read_text(path)))
    header = next(reader, None)
    if not header:
        raise EvidenceError(f"{path}: empty file; nothing was imported.")
    if lower:
        header = [h.strip().lower() for h in header]

    def records() -> Iterator[tuple[int, dict[str, str]]]:
        for line, values in enumerate(reader, start=2):
            if not values:
                continue
            if len(values) != len(header):
                raise EvidenceError(
                    f"{path}: line {line} has {len(values)} fields, the header {len(header)} (truncated or "
                    "malformed file); nothing was imported."
                )
            yield line, dict(zip(header, values, strict=True))

    return header, records()


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file's header and all its rows (see csv_records)."""
    header, records = csv_records(path)
    return header, [row for _, row in records]
