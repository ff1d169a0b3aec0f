"""The documented generic format, for a team's own results: CSV (header row) or JSON Lines, one result per row.

Columns (README.md, "Quality evidence"): model_id, dataset, metric, value (required); task, config, split, scale
(percent | fraction), n_shot, protocol, harness, harness_version, n_examples, source_url, date, verified,
self_reported (optional). Unknown columns are kept in the row's details.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, csv_records, parse_date, read_text, source_info
from catalog.evidence.records import Item, Parsed, Skipped, result
from catalog.evidence.registry import canonical_task

FORMAT = "generic"
REQUIRED = ("model_id", "dataset", "metric", "value")
KNOWN = (*REQUIRED, "task", "config", "split", "scale", "n_shot", "protocol", "harness", "harness_version",
         "n_examples", "source_url", "date", "verified", "self_reported")  # fmt: skip


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() not in (".csv", ".jsonl", ".ndjson"):
        return False
    head = path.open("rb").read(4096).decode("utf-8-sig", errors="replace")
    if path.suffix.lower() == ".csv":
        header = {h.strip().lower() for h in head.splitlines()[0].split(",")} if head else set()
        return set(REQUIRED) <= header
    first = head.splitlines()[0] if head else ""
    return all(f'"{name}"' in first for name in REQUIRED)


def _flag(value: Any, default: bool) -> bool:
    if value in (None, ""):
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".csv":
        header, records = csv_records(path, lower=True)
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise EvidenceError(
                f"{path}: the header lacks {', '.join(missing)} (required: {', '.join(REQUIRED)}). "
                "See README.md, 'Quality evidence'."
            )
        yield from records
        return
    for line, raw in enumerate(read_text(path).splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EvidenceError(
                f"{path}: line {line} is not valid JSON ({exc.msg}; truncated file?); nothing was imported."
            ) from exc
        if not isinstance(data, dict):
            raise EvidenceError(f"{path}: line {line} is not a JSON object; nothing was imported.")
        missing = [c for c in REQUIRED if c not in data]
        if missing:
            raise EvidenceError(f"{path}: line {line} lacks {', '.join(missing)}; nothing was imported.")
        yield line, {str(k).lower(): v for k, v in data.items()}


def _items(path: Path, context: ImportContext, kind: str) -> Iterator[Item]:
    for line, row in _rows(path):
        try:
            task = row.get("task") or None
            task_id = canonical_task(task, context.task_names) if task else None
            if task and task_id is None:
                yield Skipped("unknown-task", f"line {line}: {task}")
                continue
            scale = (row.get("scale") or "").strip().lower() or None
            if scale not in (None, "percent", "fraction"):
                raise ValueError(f"scale must be percent or fraction, got {scale!r}")
            fields = {
                "dataset_config": row.get("config") or None,
                "split": row.get("split") or None,
                "n_shot": _int(row.get("n_shot")),
                "protocol": row.get("protocol") or None,
                "harness": row.get("harness") or None,
                "harness_version": row.get("harness_version") or None,
                "n_examples": _int(row.get("n_examples")),
                "source_url": row.get("source_url") or None,
                "source_date": parse_date(row.get("date")),
                "verified": _flag(row.get("verified"), False),
                "self_reported": _flag(row.get("self_reported"), kind != "measured"),
                "details": {k: v for k, v in row.items() if k not in KNOWN and v not in (None, "")},
            }
        except (TypeError, ValueError) as exc:
            raise EvidenceError(f"{path}: line {line}: {exc}; nothing was imported.") from exc
        yield result(
            model_id=str(row["model_id"]).strip(),
            task_id=task_id,
            dataset=str(row["dataset"]).strip(),
            metric_raw=str(row["metric"]),
            value=row["value"],
            scale=scale,  # type: ignore[arg-type]
            **fields,
        )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location)
    kind = context.kind or "user"
    source = source_info(FORMAT, str(path.resolve()), context, kind=kind, name=path.stem)
    return Parsed(source=source, items=_items(path, context, kind))
