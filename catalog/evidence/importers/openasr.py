"""Open ASR Leaderboard CSVs (huggingface/open_asr_leaderboard scripts/data): WER in percent per evaluation set,
RTFx (inverse real-time factor on the leaderboard's GPU; -1 for API models) and model size in billions.

Per-set WERs become rows on `open-asr-leaderboard/<set>` (config: the language for the multilingual table). The
table's own average is imported only where it averages the same sets for every model: the long-form table's
`Avg (without CORAAL)` (its `Average` includes CORAAL only for models that have it), the multilingual `Avg` only
when the model has every language column. RTFx and size are reported facts, the hardware named with them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, read_csv, source_info
from catalog.evidence.records import FactRecord, Item, Parsed, Skipped, result

FORMAT = "open-asr-leaderboard"
TASK_ID = "automatic-speech-recognition"
HARDWARE = "the Open ASR Leaderboard's evaluation GPU (huggingface/open_asr_leaderboard)"
_MODEL_COLUMNS = ("model_id", "model")
_NOT_SETS = {"average", "avg", "rtfx", "model size (b)", "avg (without coraal)", "license", "model_id", "model"}


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".csv":
        return False
    with path.open("rb") as handle:
        headers = [
            h.strip().lower() for h in next(csv.reader([handle.readline(8192).decode("utf-8-sig", "replace")]), [])
        ]
    return "rtfx" in headers and any(h in headers for h in _MODEL_COLUMNS)


def _number(value: str) -> float | None:
    try:
        return float(value) if value.strip() else None
    except ValueError:
        return None


def _items(path: Path, rows: list[dict[str, str]], header: list[str]) -> Iterator[Item]:
    model_column = next(h for h in header if h.strip().lower() in _MODEL_COLUMNS)
    sets = [h for h in header if h.strip().lower() not in _NOT_SETS]
    table = path.stem  # en_longform | multilingual | ...
    lowered = {h.strip().lower(): h for h in header}
    for row in rows:
        model_id = row[model_column].strip()
        common = {
            "harness": "open_asr_leaderboard",
            "self_reported": False,
            "verified": True,
            "details": {"table": table},
        }
        for column in sets:
            if not row[column].strip():
                yield Skipped("no-score", f"{model_id} {column}")
                continue
            language, _, name = (
                column.partition("_") if "_" in column and len(column.split("_")[0]) == 2 else ("", "", column)
            )
            yield result(
                model_id=model_id,
                task_id=TASK_ID,
                dataset=f"open-asr-leaderboard/{name}",
                dataset_config=language or None,
                metric_raw="wer",
                value=row[column],
                scale="percent",
                **common,
            )
        average_column = lowered.get("avg (without coraal)") or lowered.get("avg")
        if average_column is not None and row[average_column].strip():
            per_language = all(row[c].strip() for c in sets) or "avg (without coraal)" in lowered
            if per_language:
                yield result(
                    model_id=model_id,
                    task_id=TASK_ID,
                    dataset=f"open-asr-leaderboard/{table}",
                    metric_raw="wer",
                    value=row[average_column],
                    scale="percent",
                    protocol="open-asr-average",
                    **{**common, "details": {"table": table, "column": average_column}},
                )
            else:
                yield Skipped("partial-average", model_id)
        rtfx = _number(row.get(lowered.get("rtfx", ""), "") or "")
        if rtfx is not None and rtfx > 0:
            yield FactRecord(model_id, "rtfx", {"value": rtfx, "hardware": HARDWARE, "table": table})
        size = _number(row.get(lowered.get("model size (b)", ""), "") or "")
        if size is not None and size > 0:
            yield FactRecord(model_id, "params", round(size * 1e9))


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    header, rows = read_csv(path)
    if not any(h.strip().lower() in _MODEL_COLUMNS for h in header):
        raise EvidenceError(f"{path}: no model_id column in the header; not an Open ASR Leaderboard table.")
    source = source_info(FORMAT, str(path), context, kind="leaderboard", name=f"open-asr-leaderboard/{path.stem}")
    return Parsed(source=source, items=_items(path, rows, header), total=len(rows))
