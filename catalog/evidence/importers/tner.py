"""T-NER model-card tables (asahi417/tner MODEL_CARD.md): Markdown tables of model, dataset, language model and F1
scores in percent on each dataset's test split.

`Micro F1` is entity-level micro F1 (seqeval), `Macro F1` the mean over entity types; `Micro F1 (2021)` style
headers name TweetNER7's test year, kept as the split (test_2021). `Entity-Span F1` (boundaries only, types ignored)
is its own metric, entity-span-f1, never compared with typed entity F1. Per-type columns (`F1/person`) score one
entity type, not the model, and are counted as skipped (per-entity-type-f1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from catalog.errors import EvidenceError
from catalog.evidence.importers import ImportContext, read_text, source_info
from catalog.evidence.records import Item, Parsed, Skipped, result

FORMAT = "tner"
TASK_ID = "token-classification"
_LINK = re.compile(r"\[`?([^`\]]+)`?\]\(([^)]*)\)")
_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)(.*)$")


def detect(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() != ".md":
        return False
    head = path.open("rb").read(20000).decode("utf-8", errors="replace")
    return "| Model (link)" in head and "Micro F1" in head


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _dataset(cell: str) -> str:
    match = _LINK.search(cell)
    if not match:
        return cell.strip("` ")
    text, url = match.groups()
    linked = re.search(r"huggingface\.co/datasets?/([^/?#]+/[^/?#]+)", url)
    return linked.group(1) if linked else text


def _metric(header: str) -> tuple[str, str | None]:
    """(metric spelling, split) of a score header."""
    match = _YEAR.match(header)
    if match:
        name, year, rest = match.groups()
        return (name + rest).strip(), f"test_{year}"
    return header.strip(), "test"


def _items(path: Path, text: str) -> Iterator[Item]:
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if cells and cells[0].lower().startswith("model"):
            header = cells
            continue
        if header is None or set("".join(cells)) <= set(":- "):
            continue
        if len(cells) != len(header):
            raise EvidenceError(
                f"{path}: line {number} has {len(cells)} cells, its table header {len(header)} (truncated or "
                "malformed table); nothing was imported."
            )
        model = _LINK.search(cells[0])
        if not model:
            yield Skipped("no-model-id", f"line {number}")
            continue
        model_id = model.group(1)
        dataset = _dataset(cells[1])
        base = _LINK.search(cells[2]).group(1) if _LINK.search(cells[2]) else None  # type: ignore[union-attr]
        for column, value in zip(header[3:], cells[3:], strict=True):
            spelling, split = _metric(column)
            if "/" in spelling:  # F1 of one entity type: not a model-level score
                yield Skipped("per-entity-type-f1", f"{model_id} {column}")
                continue
            yield result(
                model_id=model_id,
                task_id=TASK_ID,
                dataset=dataset,
                metric_raw=spelling.lower().replace("micro f1", "f1"),
                value=value,
                scale="percent",
                split=split,
                harness="tner",
                self_reported=True,
                verified=False,
                source_url="https://github.com/asahi417/tner/blob/master/MODEL_CARD.md",
                details={"language_model": base, "column": column},
            )


def parse(location: str, context: ImportContext) -> Parsed:
    path = Path(location).resolve()
    text = read_text(path)
    source = source_info(FORMAT, str(path), context, kind="model-card", name="tner-model-card")
    return Parsed(source=source, items=_items(path, text))
