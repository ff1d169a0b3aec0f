"""Read the taxonomy and models from the database: the library behind the listing commands."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from catalog.db.engine import Database
from catalog.db.models import Architecture, Family, Model, ModelLanguage, ModelTask, Task, TaskAlias
from catalog.errors import (
    UnknownArchitectureError,
    UnknownFamilyError,
    UnknownLanguageError,
    UnknownLicenseError,
    UnknownModelError,
    UnknownTaskError,
    UsageError,
)
from catalog.records import (
    ArchitectureRecord,
    FamilyRecord,
    ModelRecord,
    ReportedMetricRecord,
    TaskDetail,
    TaskRecord,
)

# ---------------------------------------------------------------------------------------------- name resolution


def resolve_task(session: Session, name: str) -> str:
    """Task id for a task id or alias, case-insensitively; unknown names get did-you-mean suggestions."""
    key = name.strip().lower()
    if session.get(Task, key) is not None:
        return key
    alias = session.get(TaskAlias, key)
    if alias is not None:
        return alias.task_id
    names = list(session.scalars(select(Task.id))) + list(session.scalars(select(TaskAlias.alias)))
    raise UnknownTaskError(name, names)


def resolve_family(session: Session, name: str) -> str:
    key = name.strip().lower()
    if session.get(Family, key) is not None:
        return key
    rows = session.execute(select(Family.id, Family.name)).all()
    by_name = {display.lower(): family_id for family_id, display in rows}
    if key in by_name:
        return by_name[key]
    squeezed = {k.replace(" ", "").replace("-", ""): v for k, v in by_name.items()}
    if key.replace(" ", "").replace("-", "") in squeezed:
        return squeezed[key.replace(" ", "").replace("-", "")]
    raise UnknownFamilyError(name, [r[0] for r in rows] + [r[1] for r in rows])


def resolve_architecture(session: Session, name: str) -> str:
    key = name.strip().lower()
    if session.get(Architecture, key) is not None:
        return key
    raise UnknownArchitectureError(name, session.scalars(select(Architecture.id)))


def _resolve_license(session: Session, name: str) -> str:
    key = name.strip().lower()
    known = set(session.scalars(select(Model.license).distinct()))
    if key in known:
        return key
    raise UnknownLicenseError(name, [k for k in known if k])


def _resolve_language(session: Session, name: str) -> str:
    key = name.strip().lower()
    known = set(session.scalars(select(ModelLanguage.language).distinct()))
    if key in known:
        return key
    raise UnknownLanguageError(name, known)


# ---------------------------------------------------------------------------------------------- conversions


def _task_record(task: Task, models: int = 0) -> TaskRecord:
    return TaskRecord(
        id=task.id,
        aliases=task.alias_names,
        name_en=task.name_en,
        name_zh=task.name_zh,
        modality=task.modality,
        description=task.description,
        metrics=list(task.metrics),
        architectures=[a.id for a in task.architectures],
        models=models,
    )


def _architecture_record(arch: Architecture, tasks: list[str]) -> ArchitectureRecord:
    return ArchitectureRecord(
        id=arch.id,
        name_en=arch.name_en,
        name_zh=arch.name_zh,
        modality=arch.modality,
        attention=arch.attention,
        objective=arch.objective,
        suits=arch.suits,
        families=[f.id for f in arch.families],
        tasks=tasks,
    )


def _family_record(family: Family, models: int = 0) -> FamilyRecord:
    return FamilyRecord(
        id=family.id,
        name=family.name,
        architecture=family.architecture_id,
        objective=family.objective,
        organization=family.organization,
        year=family.year,
        model_types=[m.model_type for m in family.model_types],
        open_weights=family.open_weights,
        api_only=family.api_only,
        models=models,
    )


def model_record(model: Model) -> ModelRecord:
    return ModelRecord(
        id=model.id,
        pipeline_tag=model.pipeline_tag,
        family=model.family_id,
        architecture=model.architecture_id,
        params=model.params,
        license=model.license,
        languages=model.language_codes,
        downloads=model.downloads,
        tasks=model.task_ids,
        library=model.library,
        gated=model.gated,
        api_only=model.api_only,
        curated=model.curated,
        base_model=model.base_model,
        reported=[
            ReportedMetricRecord(
                task=r.task_id,
                metric=r.metric,
                value=r.value,
                scale=r.scale,
                dataset=r.dataset,
                split=r.split,
                source=r.source,
                verified=r.verified,
            )
            for r in model.reported
        ],
        provenance={str(k): str(v) for k, v in (model.provenance or {}).items()},
        source=model.source,
    )


_MODEL_LOADS = (selectinload(Model.languages), selectinload(Model.tasks), selectinload(Model.reported))


# ---------------------------------------------------------------------------------------------- listings


def _model_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(ModelTask.task_id, func.count()).group_by(ModelTask.task_id))
    return {task_id: count for task_id, count in rows}


def list_tasks(db: Database) -> list[TaskRecord]:
    with db.session() as session:
        counts = _model_counts(session)
        tasks = session.scalars(
            select(Task).options(selectinload(Task.aliases), selectinload(Task.architectures)).order_by(Task.position)
        )
        return [_task_record(task, counts.get(task.id, 0)) for task in tasks]


def list_architectures(db: Database) -> list[ArchitectureRecord]:
    with db.session() as session:
        archs = session.scalars(
            select(Architecture).options(selectinload(Architecture.families)).order_by(Architecture.position)
        ).all()
        tasks_by_arch: dict[str, list[str]] = {}
        for task in session.scalars(select(Task).options(selectinload(Task.architectures)).order_by(Task.position)):
            for arch in task.architectures:
                tasks_by_arch.setdefault(arch.id, []).append(task.id)
        return [_architecture_record(a, tasks_by_arch.get(a.id, [])) for a in archs]


def list_families(db: Database, architecture: str | None = None) -> list[FamilyRecord]:
    with db.session() as session:
        query = select(Family).options(selectinload(Family.model_types)).order_by(Family.position)
        if architecture:
            query = query.where(Family.architecture_id == resolve_architecture(session, architecture))
        counts = dict(session.execute(select(Model.family_id, func.count()).group_by(Model.family_id)).all())
        return [_family_record(f, counts.get(f.id, 0)) for f in session.scalars(query)]


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
    with db.session() as session:
        query = select(Model).options(*_MODEL_LOADS)
        if task:
            task_id = resolve_task(session, task)
            query = query.where(Model.id.in_(select(ModelTask.model_id).where(ModelTask.task_id == task_id)))
        if family:
            query = query.where(Model.family_id == resolve_family(session, family))
        if license:
            query = query.where(Model.license == _resolve_license(session, license))
        if language:
            code = _resolve_language(session, language)
            query = query.where(Model.id.in_(select(ModelLanguage.model_id).where(ModelLanguage.language == code)))
        query = query.order_by(Model.downloads.desc().nulls_last(), Model.id)
        if limit:
            query = query.limit(limit)
        return [model_record(m) for m in session.scalars(query)]


def get_model(db: Database, model_id: str) -> ModelRecord:
    with db.session() as session:
        model = session.get(Model, model_id, options=_MODEL_LOADS)
        if model is None:
            folded = session.scalars(select(Model).where(func.lower(Model.id) == model_id.lower())).first()
            if folded is not None:
                return model_record(folded)
            # Suggest among ids sharing the last path part, and the curated set; never scan a huge table.
            tail = model_id.split("/")[-1].lower()
            pool = list(session.scalars(select(Model.id).where(func.lower(Model.id).like(f"%{tail[:4]}%")).limit(500)))
            pool += list(session.scalars(select(Model.id).where(Model.curated.is_(True))))
            raise UnknownModelError(model_id, pool)
        return model_record(model)


def task_detail(db: Database, name: str, top: int = 10) -> TaskDetail:
    with db.session() as session:
        task_id = resolve_task(session, name)
        task = session.scalars(
            select(Task)
            .where(Task.id == task_id)
            .options(
                selectinload(Task.aliases),
                selectinload(Task.architectures).selectinload(Architecture.families),
            )
        ).one()
        counts = _model_counts(session)
        record = _task_record(task, counts.get(task.id, 0))
        archs = [_architecture_record(a, []) for a in task.architectures]
        # Families: those with a model for this task, and those whose architecture suits it.
        with_models = set(
            session.scalars(
                select(Model.family_id)
                .where(Model.id.in_(select(ModelTask.model_id).where(ModelTask.task_id == task_id)))
                .distinct()
            )
        )
        family_rows = session.scalars(
            select(Family).options(selectinload(Family.model_types)).order_by(Family.position)
        ).all()
        arch_ids = {a.id for a in task.architectures}
        families = [_family_record(f) for f in family_rows if f.id in with_models or f.architecture_id in arch_ids]
    top_models = list_models(db, task=task_id, limit=top)
    return TaskDetail(task=record, architectures=archs, families=families, top_models=top_models)
