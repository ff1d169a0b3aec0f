"""Typed records at the importers' boundary: what a source is, each result it holds, each fact, each skip.

Importers turn upstream formats into a stream of these; catalog.evidence.store writes them. `result()` is the one
place where a source's metric spelling and number become a canonical metric and a value on its canonical scale,
or a Skipped with the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from catalog.errors import MetricValueError
from catalog.evidence.registry import DeclaredScale, canonical_metric, normalise_value

SourceKind = Literal["model-card", "leaderboard", "paper", "user", "hub", "measured"]
SOURCE_KINDS: tuple[str, ...] = ("model-card", "leaderboard", "paper", "user", "hub", "measured")


@dataclass(frozen=True)
class SourceInfo:
    """One importable source; `key` identifies it across imports (a re-import replaces the rows under it)."""

    key: str
    kind: str
    name: str
    format: str
    location: str
    revision: str | None = None
    published_at: datetime | None = None


@dataclass(frozen=True)
class EvidenceRecord:
    model_id: str
    task_id: str | None
    dataset: str
    metric: str
    metric_raw: str
    value: float
    higher_is_better: bool
    dataset_config: str | None = None
    split: str | None = None
    n_shot: int | None = None
    protocol: str | None = None
    harness: str | None = None
    harness_version: str | None = None
    source_url: str | None = None
    source_date: datetime | None = None
    self_reported: bool = True
    verified: bool = False
    n_examples: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    source_kind: str | None = None  # None: the source's kind
    source_name: str | None = None  # None: the source's name

    def identity(self) -> tuple[Any, ...]:
        """Two records with the same identity in one source are the same result (the second is a duplicate)."""
        return (
            self.model_id,
            self.task_id,
            self.dataset.lower(),
            (self.dataset_config or "").lower(),
            (self.split or "").lower(),
            self.metric,
            self.n_shot,
            self.protocol,
        )


@dataclass(frozen=True)
class FactRecord:
    """A fact a source reports about a model besides results (parameters, license, release date, speed ...)."""

    model_id: str
    fact: str
    value: Any


@dataclass(frozen=True)
class Skipped:
    reason: str
    detail: str = ""


Item = EvidenceRecord | FactRecord | Skipped


@dataclass
class Parsed:
    """An opened source: its description and the stream of items read from it (consumed once, by the store)."""

    source: SourceInfo
    items: Iterator[Item]
    total: int | None = None  # units of progress (files, rows), when known up front
    progress_unit: str = "rows"
    ticks: list[int] = field(default_factory=lambda: [0])  # importers add to ticks[0] as they advance

    @classmethod
    def ticking(cls, source: SourceInfo, total: int, unit: str, items: Callable[[Parsed], Iterator[Item]]) -> Parsed:
        """A source read in units (files, cards) that `items(parsed)` counts in parsed.ticks as it goes."""
        parsed = cls(source=source, items=iter(()), total=total, progress_unit=unit)
        parsed.items = items(parsed)
        return parsed


@dataclass
class ImportReport:
    """What one import did: values read, imported, skipped by reason; facts stored."""

    source: SourceInfo
    rows_read: int = 0
    rows_imported: int = 0
    facts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    replaced: int = 0  # rows of an earlier import of the same source that this one replaced

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.key,
            "kind": self.source.kind,
            "name": self.source.name,
            "format": self.source.format,
            "rows_read": self.rows_read,
            "rows_imported": self.rows_imported,
            "facts": self.facts,
            "skipped": dict(sorted(self.skipped.items())),
            "replaced": self.replaced,
        }


def result(
    *,
    model_id: str,
    task_id: str | None,
    dataset: str,
    metric_raw: str,
    value: Any,
    scale: DeclaredScale | None,
    **fields: Any,
) -> EvidenceRecord | Skipped:
    """A result on the canonical scale, or why it was skipped (unknown-metric, off-task, not-a-number,
    ambiguous-scale, out-of-range)."""
    if not model_id:
        return Skipped("no-model-id", f"{dataset} {metric_raw}")
    spec = canonical_metric(metric_raw, task_id)
    if spec is None:
        return Skipped("unknown-metric", metric_raw)
    if task_id is not None and not spec.measures(task_id):
        return Skipped("off-task-metric", f"{metric_raw} for {task_id}")
    if isinstance(value, str) and value.strip().endswith("%"):
        value, scale = value.strip()[:-1], "percent"  # "25.59%" declares its own scale
    try:
        number = float(value)
    except (TypeError, ValueError):
        return Skipped("not-a-number", f"{metric_raw}={value!r}")
    try:
        canonical = normalise_value(spec, number, scale)
    except MetricValueError as exc:
        return Skipped(exc.reason, str(exc))
    return EvidenceRecord(
        model_id=model_id,
        task_id=task_id,
        dataset=dataset,
        metric=spec.name,
        metric_raw=str(metric_raw),
        value=canonical,
        higher_is_better=spec.higher_is_better,
        **fields,
    )
