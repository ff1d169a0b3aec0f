"""Core-only reads of the evidence table for the recommend path and `catalog show` (no ORM import).

A task's evidence is every row whose task_id is the task, plus rows on a dataset that one of the task's benchmarks
reads (MTEB results serve feature-extraction and sentence-similarity alike). Rows come back grouped by model,
newest source first within a model.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, text
from sqlalchemy.engine import Connection

from catalog.db.schema import evidence, tasks

if TYPE_CHECKING:
    from catalog.evidence.identity import ModelIds

_CHUNK = 900  # bound parameters per IN list (SQLite's default limit is 32,766; PostgreSQL's 65,535)


@dataclass(frozen=True)
class EvidenceRow:
    id: int
    source_key: str
    model_id: str
    task_id: str | None
    dataset: str
    dataset_config: str | None
    split: str | None
    metric: str
    metric_raw: str
    value: float
    higher_is_better: bool
    n_shot: int | None
    protocol: str | None
    harness: str | None
    harness_version: str | None
    source_kind: str
    source_name: str
    source_url: str | None
    source_date: datetime | None
    self_reported: bool
    verified: bool
    n_examples: int | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["source_date"] = self.source_date.isoformat() if self.source_date else None
        return data


_COLUMNS = [evidence.c[name] for name in EvidenceRow.__dataclass_fields__]


_new_row: Any = EvidenceRow  # built from a row's columns, in field order (mypy cannot count them)
_LIGHT_COLUMNS = _COLUMNS[:-1]  # all but details: its JSON decoding is half the cost of a large read


def _rows(connection: Connection, statement: Any, with_details: bool = True) -> Iterable[EvidenceRow]:
    if with_details:
        for row in connection.execute(statement).all():
            yield _new_row(*row[:-1], row[-1] or {})
    else:
        empty: dict[str, Any] = {}
        for row in connection.execute(statement).all():
            yield _new_row(*row, empty)


def task_benchmarks(connection: Connection, task_id: str) -> list[dict[str, Any]]:
    """The task's seeded benchmarks (catalog.evidence.benchmarks describes the record)."""
    value = connection.execute(select(tasks.c.benchmarks).where(tasks.c.id == task_id)).scalar()
    return list(value or [])


def stored_spellings(connection: Connection, names: Collection[str]) -> list[str]:
    """Every spelling of `names` (compared case-insensitively) that evidence.dataset holds, so that a filter can be
    `dataset IN (...)`, which ix_evidence_dataset answers, rather than lower(dataset) IN (...), which scans the table.
    The distinct values come from the index by one seek each (a loose index scan), not from a pass over every row."""
    wanted = {name.lower() for name in names}
    if not wanted:
        return []
    stored = connection.execute(_DISTINCT_DATASETS).scalars()
    return sorted(name for name in stored if name.lower() in wanted)


_DISTINCT_DATASETS = text(
    "WITH RECURSIVE d(name) AS (SELECT min(dataset) FROM evidence UNION ALL "
    "SELECT (SELECT min(dataset) FROM evidence WHERE dataset > d.name) FROM d WHERE d.name IS NOT NULL) "
    "SELECT name FROM d WHERE name IS NOT NULL"
)


def task_condition(connection: Connection, task_id: str, benchmarks: Iterable[Mapping[str, Any]]) -> Any:
    """The rows that bear on a task: its own, or on a dataset one of its benchmarks reads (MTEB results serve
    feature-extraction and sentence-similarity alike), in any stored spelling of that dataset."""
    from catalog.evidence.benchmarks import benchmark_datasets

    condition = evidence.c.task_id == task_id
    spellings = stored_spellings(connection, benchmark_datasets(benchmarks))
    return or_(condition, evidence.c.dataset.in_(spellings)) if spellings else condition


def evidence_for_task(
    connection: Connection,
    task_id: str,
    model_ids: Collection[str] | None = None,
    *,
    with_details: bool = False,
) -> dict[str, list[EvidenceRow]]:
    """model id -> the rows that bear on `task_id` (optionally only for `model_ids`, rows naming one of them by a
    pre-2024 Hub id or in lower case included, keyed by the catalog id). `details` (upstream revision, column names
    ...) is read only with with_details=True: the ranking does not need it."""
    condition = task_condition(connection, task_id, task_benchmarks(connection, task_id))
    columns = _COLUMNS if with_details else _LIGHT_COLUMNS
    order = (evidence.c.model_id, evidence.c.source_date.desc(), evidence.c.id)
    result: dict[str, list[EvidenceRow]] = {}
    if model_ids is None:
        for row in _rows(connection, select(*columns).where(condition).order_by(*order), with_details):
            result.setdefault(row.model_id, []).append(row)
        return result
    catalog = _catalog_ids(connection)
    wanted = set(model_ids)
    names = sorted(catalog.spellings(wanted) | wanted)
    for i in range(0, len(names), _CHUNK):
        statement = select(*columns).where(condition, evidence.c.model_id.in_(names[i : i + _CHUNK])).order_by(*order)
        for row in _rows(connection, statement, with_details):
            model_id = row.model_id if row.model_id in wanted else catalog.resolve(row.model_id)
            if model_id in wanted:
                result.setdefault(model_id, []).append(row)
    return result


def _catalog_ids(connection: Connection) -> ModelIds:
    from catalog.db.schema import models
    from catalog.evidence.identity import ModelIds

    return ModelIds(connection.execute(select(models.c.id)).scalars())


def evidence_for_model(connection: Connection, model_id: str) -> list[EvidenceRow]:
    """Every row for one model, grouped by task and dataset: rows naming it by its pre-2024 Hub id or in another
    case included (catalog.evidence.identity; their model_id stays as the source wrote it)."""
    ids = _catalog_ids(connection)
    statement = (
        select(*_COLUMNS)
        .where(evidence.c.model_id.in_(sorted(ids.spellings([model_id]))))
        .order_by(evidence.c.task_id, evidence.c.dataset, evidence.c.metric, evidence.c.source_date.desc())
    )
    return [
        row for row in _rows(connection, statement) if row.model_id == model_id or ids.resolve(row.model_id) == model_id
    ]
