"""Read the taxonomy and models from the database: the library behind the listing commands.

SQLAlchemy Core on the tables of `catalog.db.schema`, never the ORM: these functions are the start-up path of
`catalog tasks` and `catalog models`. The name resolvers and model_records (catalog.lookup, plain SQL: also the
start-up path of `catalog recommend`) take a Core Connection, an ORM Session or a catalog.db.reader.Reader.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Executable, Row, func, select

from catalog.db.engine import Database
from catalog.db.schema import (
    architectures,
    families,
    family_model_types,
    model_languages,
    model_tasks,
    models,
    task_architectures,
    tasks,
)
from catalog.errors import UnknownLanguageError, UnknownLicenseError, UnknownModelError, UsageError
from catalog.lookup import model_records, resolve_architecture, resolve_family, resolve_task, task_records
from catalog.records import ArchitectureRecord, FamilyRecord, ModelRecord, TaskDetail, TaskRecord

# defined in catalog.lookup
__all__ = ["model_records", "resolve_architecture", "resolve_family", "resolve_task", "task_records"]


class Executor(Protocol):
    """A Core Connection or an ORM Session."""

    def execute(self, statement: Executable, /) -> Any: ...

    def scalar(self, statement: Executable, /) -> Any: ...


def first_column(conn: Executor, statement: Executable) -> list[Any]:
    """The first column of every row of `statement`."""
    return [row[0] for row in conn.execute(statement)]


# ---------------------------------------------------------------------------------------------- name resolution


def _resolve_license(conn: Executor, name: str) -> str:
    key = name.strip().lower()
    known = set(first_column(conn, select(models.c.license).distinct()))
    if key in known:
        return key
    raise UnknownLicenseError(name, [k for k in known if k])


def _resolve_language(conn: Executor, name: str) -> str:
    key = name.strip().lower()
    known = set(first_column(conn, select(model_languages.c.language).distinct()))
    if key in known:
        return key
    raise UnknownLanguageError(name, known)


# ---------------------------------------------------------------------------------------------- conversions


def _grouped(rows: Iterable[Sequence[Any]]) -> dict[Any, list[Any]]:
    """(key, value) rows -> key: [values] in row order."""
    out: dict[Any, list[Any]] = {}
    for key, value in rows:
        out.setdefault(key, []).append(value)
    return out


def _architecture_records(
    conn: Executor, arch_ids: list[str] | None = None, with_tasks: bool = True
) -> list[ArchitectureRecord]:
    query = select(architectures).order_by(architectures.c.position)
    if arch_ids is not None:
        query = query.where(architectures.c.id.in_(arch_ids))
    members = _grouped(conn.execute(select(families.c.architecture_id, families.c.id).order_by(families.c.position)))
    suited: dict[Any, list[Any]] = {}
    if with_tasks:
        suited = _grouped(
            conn.execute(
                select(task_architectures.c.architecture_id, tasks.c.id)
                .join(tasks, tasks.c.id == task_architectures.c.task_id)
                .order_by(tasks.c.position)
            )
        )
    return [
        ArchitectureRecord(
            id=a.id,
            name_en=a.name_en,
            name_zh=a.name_zh,
            modality=a.modality,
            attention=a.attention,
            objective=a.objective,
            suits=a.suits,
            families=members.get(a.id, []),
            tasks=suited.get(a.id, []),
        )
        for a in conn.execute(query)
    ]


def _family_record(family: Row[Any], model_types: dict[Any, list[Any]], models_count: int = 0) -> FamilyRecord:
    return FamilyRecord(
        id=family.id,
        name=family.name,
        architecture=family.architecture_id,
        objective=family.objective,
        organization=family.organization,
        year=family.year,
        model_types=model_types.get(family.id, []),
        open_weights=family.open_weights,
        api_only=family.api_only,
        models=models_count,
    )


def _model_types(conn: Executor) -> dict[Any, list[Any]]:
    return _grouped(
        conn.execute(
            select(family_model_types.c.family_id, family_model_types.c.model_type).order_by(
                family_model_types.c.model_type
            )
        )
    )


# ---------------------------------------------------------------------------------------------- listings


def list_tasks(db: Database | str | None = None) -> list[TaskRecord]:
    """Every task (see task_records). `db`: an opened Database, or a URL (None: the configured one), read as
    catalog.db.reader.reading reads it: a current SQLite file without SQLAlchemy."""
    from catalog.db.reader import reading

    with reading(db) as reader:
        return task_records(reader)


def list_architectures(db: Database) -> list[ArchitectureRecord]:
    with db.connect() as conn:
        return _architecture_records(conn)


def list_families(db: Database, architecture: str | None = None) -> list[FamilyRecord]:
    with db.connect() as conn:
        query = select(families).order_by(families.c.position)
        if architecture:
            query = query.where(families.c.architecture_id == resolve_architecture(conn, architecture))
        counts: dict[str, int] = dict(
            conn.execute(select(models.c.family_id, func.count()).group_by(models.c.family_id)).all()
        )
        types = _model_types(conn)
        return [_family_record(f, types, counts.get(f.id, 0)) for f in conn.execute(query)]


def list_models(
    db: Database,
    *,
    task: str | None = None,
    family: str | None = None,
    license: str | None = None,
    language: str | None = None,
    limit: int = 50,
) -> list[ModelRecord]:
    """Models matching every given filter, most downloaded first (ties by id). limit=0 means all."""
    if limit < 0:
        raise UsageError(f"--limit must be 0 (all) or a positive number, not {limit}.")
    with db.connect() as conn:
        query = select(models.c.id)
        if task:
            task_id = resolve_task(conn, task)
            query = query.where(models.c.id.in_(select(model_tasks.c.model_id).where(model_tasks.c.task_id == task_id)))
        if family:
            query = query.where(models.c.family_id == resolve_family(conn, family))
        if license:
            query = query.where(models.c.license == _resolve_license(conn, license))
        if language:
            code = _resolve_language(conn, language)
            query = query.where(
                models.c.id.in_(select(model_languages.c.model_id).where(model_languages.c.language == code))
            )
        query = query.order_by(models.c.downloads.desc().nulls_last(), models.c.id)
        if limit:
            query = query.limit(limit)
        ids = first_column(conn, query)
        records = _chunked_records(conn, ids)
        return [records[i] for i in ids]


def _chunked_records(conn: Executor, ids: list[str], size: int = 5000) -> dict[str, ModelRecord]:
    """model_records in chunks, so that `--limit 0` on a large database stays within bound-parameter limits."""
    out: dict[str, ModelRecord] = {}
    for start in range(0, len(ids), size):
        out.update(model_records(conn, ids[start : start + size]))
    return out


def get_model(db: Database, model_id: str) -> ModelRecord:
    with db.connect() as conn:
        found = model_records(conn, [model_id])
        if model_id in found:
            return found[model_id]
        folded = conn.scalar(select(models.c.id).where(func.lower(models.c.id) == model_id.lower()).limit(1))
        if folded is not None:
            return model_records(conn, [folded])[folded]
        # Suggest among ids sharing the last path part, and the curated set; never scan a huge table.
        tail = model_id.split("/")[-1].lower()
        pool = first_column(conn, select(models.c.id).where(func.lower(models.c.id).like(f"%{tail[:4]}%")).limit(500))
        pool += first_column(conn, select(models.c.id).where(models.c.curated.is_(True)))
        raise UnknownModelError(model_id, pool)


def task_detail(db: Database, name: str, top: int = 10) -> TaskDetail:
    with db.connect() as conn:
        task_id = resolve_task(conn, name)
        (record,) = task_records(conn, [task_id])
        archs = _architecture_records(conn, record.architectures, with_tasks=False)
        archs.sort(key=lambda a: record.architectures.index(a.id))
        # Families: those with a model for this task, and those whose architecture suits it.
        with_models = set(
            first_column(
                conn,
                select(models.c.family_id)
                .where(models.c.id.in_(select(model_tasks.c.model_id).where(model_tasks.c.task_id == task_id)))
                .distinct(),
            )
        )
        types = _model_types(conn)
        arch_ids = set(record.architectures)
        family_rows = conn.execute(select(families).order_by(families.c.position)).all()
        family_records = [
            _family_record(f, types) for f in family_rows if f.id in with_models or f.architecture_id in arch_ids
        ]
    top_models = list_models(db, task=task_id, limit=top)
    return TaskDetail(task=record, architectures=archs, families=family_records, top_models=top_models)
