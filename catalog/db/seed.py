"""Seed the database from catalog.yaml, once per version of the file.

The file's digest is stored in catalog_meta; when it changes (catalog.db.engine checks that without importing
this module), the taxonomy is parsed, validated and upserted in the caller's transaction (nothing is written if
validation fails). Curated facts overwrite curated fields; figures that a Hub sync owns (downloads, likes, Hub
dates) are left alone once a sync has set them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog.db.meta import SEED_DIGEST_KEY as DIGEST_KEY
from catalog.db.models import (
    Architecture,
    CatalogMeta,
    Family,
    FamilyModelType,
    Model,
    ModelLanguage,
    ModelTask,
    ReportedMetric,
    Task,
    TaskAlias,
    utcnow,
)
from catalog.evidence.benchmarks import benchmark_record
from catalog.evidence.curated import seed_curated_evidence

if TYPE_CHECKING:  # pydantic is imported only when there is something to seed
    from catalog.taxonomy import ModelSpec, Taxonomy

CURATED_SOURCE = "catalog.yaml"


def seed(connection: Connection, taxonomy_path: Path, digest: str, data: bytes | None = None) -> None:
    """Validate the taxonomy file (or its bytes `data`, already read) and upsert it in the caller's transaction;
    record its digest."""
    from catalog.taxonomy import load_taxonomy, parse_taxonomy_bytes

    taxonomy = load_taxonomy(taxonomy_path) if data is None else parse_taxonomy_bytes(data, str(taxonomy_path))
    with Session(bind=connection, autoflush=False) as session:
        apply_taxonomy(session, taxonomy)
        session.merge(CatalogMeta(key=DIGEST_KEY, value=digest))
        session.merge(CatalogMeta(key="seeded_at", value=utcnow().isoformat(timespec="seconds")))
        session.flush()


def apply_taxonomy(session: Session, taxonomy: Taxonomy) -> None:
    arch_ids = {a.id for a in taxonomy.architectures}
    task_ids = {t.id for t in taxonomy.tasks}
    family_ids = {f.id for f in taxonomy.families}

    for position, spec in enumerate(taxonomy.architectures):
        arch = session.get(Architecture, spec.id) or Architecture(id=spec.id)
        arch.position = position
        arch.name_en, arch.name_zh, arch.modality = spec.name_en, spec.name_zh, spec.modality
        arch.attention, arch.objective, arch.suits = spec.attention, spec.objective, spec.suits
        arch.description = spec.description
        session.add(arch)
    session.flush()

    architectures = {a.id: a for a in session.scalars(select(Architecture))}
    for position, task_spec in enumerate(taxonomy.tasks):
        task = session.get(Task, task_spec.id) or Task(id=task_spec.id)
        task.position = position
        task.name_en, task.name_zh, task.modality = task_spec.name_en, task_spec.name_zh, task_spec.modality
        task.description = task_spec.description
        task.metrics = list(task_spec.metrics)
        task.benchmarks = [benchmark_record(b) for b in task_spec.benchmarks]
        task.architectures = [architectures[a] for a in task_spec.architectures]
        session.add(task)
    session.flush()
    # Aliases are rebuilt wholesale: an alias may move from one task to another between versions.
    session.execute(delete(TaskAlias))
    for task_spec in taxonomy.tasks:
        for position, alias in enumerate(task_spec.aliases):
            session.add(TaskAlias(alias=alias, task_id=task_spec.id, position=position))

    for position, family_spec in enumerate(taxonomy.families):
        family = session.get(Family, family_spec.id) or Family(id=family_spec.id)
        family.position = position
        family.name = family_spec.name
        family.architecture_id = family_spec.architecture
        family.objective = family_spec.objective
        family.organization = family_spec.organization
        family.year = family_spec.year
        family.open_weights = family_spec.open_weights
        family.api_only = family_spec.api_only
        family.description = family_spec.description
        session.add(family)
    session.flush()
    session.execute(delete(FamilyModelType))
    for family_spec in taxonomy.families:
        for model_type in family_spec.model_types:
            session.add(FamilyModelType(model_type=model_type, family_id=family_spec.id))
    session.flush()

    families = {f.id: f for f in taxonomy.families}
    curated_ids = set()
    for model_spec in taxonomy.models:
        curated_ids.add(model_spec.id)
        _upsert_model(session, model_spec, families[model_spec.family].architecture)
    session.flush()

    # Entries that left catalog.yaml: rows only it created go; rows a sync also knows stay, uncurated.
    for model in session.scalars(select(Model).where(Model.curated.is_(True))):
        if model.id not in curated_ids:
            if model.source == CURATED_SOURCE:
                session.delete(model)
            else:
                model.curated = False
    session.flush()
    for stale_family in session.scalars(select(Family).where(Family.id.not_in(family_ids))):
        session.delete(stale_family)
    for stale_task in session.scalars(select(Task).where(Task.id.not_in(task_ids))):
        session.delete(stale_task)
    session.flush()
    for stale_arch in session.scalars(select(Architecture).where(Architecture.id.not_in(arch_ids))):
        session.delete(stale_arch)
    session.flush()
    # The curated `reported:` figures are evidence too, under source key "catalog.yaml" (same transaction).
    seed_curated_evidence(session.connection(), taxonomy)


def _upsert_model(session: Session, spec: ModelSpec, architecture_id: str) -> None:
    model = session.get(Model, spec.id)
    if model is None:
        model = Model(id=spec.id, source=CURATED_SOURCE)
        session.add(model)
    provenance = dict(model.provenance or {})
    model.curated = True
    model.pipeline_tag = spec.tasks[0]
    model.family_id = spec.family
    model.architecture_id = architecture_id
    model.params = spec.params
    model.license = spec.license
    model.library = spec.library
    model.gated = spec.gated
    model.api_only = spec.api_only
    model.base_model = spec.base_model
    model.context_length = spec.context_length
    model.description = spec.description
    provenance["family"] = "catalog.yaml (curated)"
    provenance["license"] = "catalog.yaml (Hub license tag, reviewed)"
    provenance["languages"] = "catalog.yaml (Hub language tags, reviewed)"
    if spec.params is not None:
        checked = "verified" if spec.params_verified else "not re-verified"
        provenance["params"] = f"reported: {spec.params_source} ({checked})"
    else:
        provenance.pop("params", None)
    if model.synced_at is None:
        model.downloads = spec.downloads
        if spec.downloads is not None:
            provenance["downloads"] = f"Hub 30-day downloads as of {spec.downloads_as_of} (catalog.yaml)"
    model.provenance = provenance

    model.languages = [ModelLanguage(language=code, position=i) for i, code in enumerate(dict.fromkeys(spec.languages))]
    model.tasks = [ModelTask(task_id=task, position=i) for i, task in enumerate(spec.tasks)]
    model.reported = [
        ReportedMetric(
            task_id=metric.task or spec.tasks[0],
            metric=metric.metric,
            value=metric.value,
            scale=metric.scale,
            dataset=metric.dataset,
            split=metric.split,
            source=metric.source,
            verified=metric.verified,
        )
        for metric in spec.reported
    ]
