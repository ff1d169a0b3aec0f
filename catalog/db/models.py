"""The catalog's tables as a typed SQLAlchemy 2.0 ORM, for the code that writes them (seeding, Hub sync, benchmark
storage) and for tests.

The tables themselves are defined once, in Core, in `catalog.db.schema` (the read path queries those without
importing the ORM); each class here is mapped onto its table ("declarative with imperative table") and adds the
relationships. Model rows carry the provenance of their facts (`provenance`: field -> where it came from) and
timestamps for when they were created, updated and last synced from the Hub.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped, relationship

from catalog.db import schema
from catalog.db.schema import utcnow

__all__ = [
    "Architecture",
    "Base",
    "BenchmarkResult",
    "BenchmarkRun",
    "CatalogMeta",
    "Evidence",
    "EvidenceSource",
    "Family",
    "FamilyModelType",
    "Model",
    "ModelLanguage",
    "ModelTask",
    "ReportedFact",
    "ReportedMetric",
    "SyncState",
    "Task",
    "TaskAlias",
    "utcnow",
]

task_architectures = schema.task_architectures


class Base(DeclarativeBase):
    metadata = schema.metadata


class Timestamped:
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Architecture(Timestamped, Base):
    __table__ = schema.architectures

    id: Mapped[str]
    position: Mapped[int]
    name_en: Mapped[str]
    name_zh: Mapped[str]
    modality: Mapped[str]
    attention: Mapped[str]
    objective: Mapped[str]
    suits: Mapped[str]
    description: Mapped[str]

    families: Mapped[list[Family]] = relationship(back_populates="architecture", order_by="Family.position")


class Task(Timestamped, Base):
    __table__ = schema.tasks

    id: Mapped[str]
    position: Mapped[int]
    name_en: Mapped[str]
    name_zh: Mapped[str]
    modality: Mapped[str]
    description: Mapped[str]
    metrics: Mapped[list[str]]
    benchmarks: Mapped[list[dict[str, Any]]]

    aliases: Mapped[list[TaskAlias]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="TaskAlias.position"
    )
    architectures: Mapped[list[Architecture]] = relationship(
        secondary=schema.task_architectures, order_by="Architecture.position"
    )

    @property
    def alias_names(self) -> list[str]:
        return [a.alias for a in self.aliases]


class TaskAlias(Base):
    __table__ = schema.task_aliases

    alias: Mapped[str]
    task_id: Mapped[str]
    position: Mapped[int]

    task: Mapped[Task] = relationship(back_populates="aliases")


class Family(Timestamped, Base):
    __table__ = schema.families

    id: Mapped[str]
    position: Mapped[int]
    name: Mapped[str]
    architecture_id: Mapped[str]
    objective: Mapped[str]
    organization: Mapped[str]
    year: Mapped[int]
    open_weights: Mapped[bool]
    api_only: Mapped[bool]
    description: Mapped[str]

    architecture: Mapped[Architecture] = relationship(back_populates="families")
    model_types: Mapped[list[FamilyModelType]] = relationship(
        back_populates="family", cascade="all, delete-orphan", order_by="FamilyModelType.model_type"
    )


class FamilyModelType(Base):
    """Maps a config.json model_type to its family (one family per model_type)."""

    __table__ = schema.family_model_types

    model_type: Mapped[str]
    family_id: Mapped[str]

    family: Mapped[Family] = relationship(back_populates="model_types")


class Model(Timestamped, Base):
    """A checkpoint (Hub id) or an API-only model. Facts may come from catalog.yaml, the Hub or a snapshot."""

    __table__ = schema.models

    id: Mapped[str]
    pipeline_tag: Mapped[str | None]
    family_id: Mapped[str | None]
    architecture_id: Mapped[str | None]
    model_type: Mapped[str | None]
    params: Mapped[int | None]
    license: Mapped[str | None]
    library: Mapped[str | None]
    gated: Mapped[bool]
    api_only: Mapped[bool]
    curated: Mapped[bool]
    downloads: Mapped[int | None]
    likes: Mapped[int | None]
    base_model: Mapped[str | None]
    context_length: Mapped[int | None]
    description: Mapped[str]
    source: Mapped[str]
    provenance: Mapped[dict[str, Any]]
    hub_last_modified: Mapped[datetime | None]
    hub_created_at: Mapped[datetime | None]
    synced_at: Mapped[datetime | None]
    author: Mapped[str | None]
    sha: Mapped[str | None]
    tags: Mapped[list[str]]
    # Digest of the Hub fields a sync last wrote: an unchanged model is skipped without a write.
    hub_digest: Mapped[str | None]

    family: Mapped[Family | None] = relationship()
    architecture: Mapped[Architecture | None] = relationship()
    languages: Mapped[list[ModelLanguage]] = relationship(
        cascade="all, delete-orphan", order_by="ModelLanguage.position"
    )
    tasks: Mapped[list[ModelTask]] = relationship(cascade="all, delete-orphan", order_by="ModelTask.position")
    reported: Mapped[list[ReportedMetric]] = relationship(cascade="all, delete-orphan", order_by="ReportedMetric.id")

    @property
    def language_codes(self) -> list[str]:
        return [entry.language for entry in self.languages]

    @property
    def task_ids(self) -> list[str]:
        return [entry.task_id for entry in self.tasks]


class ModelLanguage(Base):
    __table__ = schema.model_languages

    model_id: Mapped[str]
    language: Mapped[str]
    position: Mapped[int]


class ModelTask(Base):
    """Tasks a model serves. Not a foreign key to tasks: the Hub has pipeline tags the taxonomy does not curate."""

    __table__ = schema.model_tasks

    model_id: Mapped[str]
    task_id: Mapped[str]
    position: Mapped[int]


class ReportedMetric(Base):
    """A figure the model card or paper reports (never measured here)."""

    __table__ = schema.reported_metrics

    id: Mapped[int]
    model_id: Mapped[str]
    task_id: Mapped[str | None]
    metric: Mapped[str]
    value: Mapped[float]
    scale: Mapped[str]
    dataset: Mapped[str]
    split: Mapped[str | None]
    source: Mapped[str]
    verified: Mapped[bool]


class SyncState(Base):
    """Progress of one Hub listing (a task + sort + filters): the next page to fetch survives a crash, so a killed
    sync resumes where it stopped. Updated in the same transaction as the page it follows."""

    __table__ = schema.sync_state

    key: Mapped[str]
    task_id: Mapped[str | None]
    query: Mapped[dict[str, Any]]
    next_url: Mapped[str | None]
    pages: Mapped[int]
    models: Mapped[int]
    skipped: Mapped[int]
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class CatalogMeta(Base):
    """Key-value facts about the database itself (e.g. the digest of the catalog.yaml it was seeded from)."""

    __table__ = schema.catalog_meta

    key: Mapped[str]
    value: Mapped[str]


class BenchmarkRun(Base):
    """One `catalog bench run`: what was asked, on which hardware and software. machine_id (a digest of the stable
    hardware facts) finds "results measured on this machine"."""

    __table__ = schema.benchmark_runs

    id: Mapped[int]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str]  # running | finished | interrupted | failed
    options: Mapped[dict[str, Any]]
    hardware: Mapped[dict[str, Any]]
    software: Mapped[dict[str, Any]]
    machine_id: Mapped[str]

    results: Mapped[list[BenchmarkResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="BenchmarkResult.id"
    )


class BenchmarkResult(Base):
    """One (model, shape) of a run: latency statistics with the raw samples, throughput, memory, efficiency, or
    the reason it failed. model_id is the catalog/Hub id or the local path that was benchmarked."""

    __table__ = schema.benchmark_results

    id: Mapped[int]
    run_id: Mapped[int]
    model_id: Mapped[str]
    task_id: Mapped[str | None]
    batch_size: Mapped[int]
    seq_len: Mapped[int]
    device: Mapped[str]
    dtype: Mapped[str]
    weights: Mapped[str]  # real | random
    provenance: Mapped[str]
    status: Mapped[str]  # ok | failed | timeout | oom | interrupted
    error: Mapped[str | None]
    latency_p50_ms: Mapped[float | None]
    latency_p90_ms: Mapped[float | None]
    latency_p95_ms: Mapped[float | None]
    latency_p99_ms: Mapped[float | None]
    latency_mean_ms: Mapped[float | None]
    latency_stdev_ms: Mapped[float | None]
    latency_cov: Mapped[float | None]
    iterations: Mapped[int | None]
    throughput_items_s: Mapped[float | None]
    throughput_tokens_s: Mapped[float | None]
    prefill_ms: Mapped[float | None]
    decode_ms_per_token: Mapped[float | None]
    load_time_s: Mapped[float | None]
    peak_rss_load_mb: Mapped[float | None]
    peak_rss_infer_mb: Mapped[float | None]
    flops_per_forward: Mapped[int | None]
    achieved_gflops: Mapped[float | None]
    peak_fraction: Mapped[float | None]
    samples_ms: Mapped[list[float]]
    unstable: Mapped[bool]
    details: Mapped[dict[str, Any]]  # converged, CUDA memory, notes
    # Accuracy on labelled data, measured in the same run as the speed (benchmark harness II).
    eval_set: Mapped[str | None]  # registry name, or file:<name> for user files
    eval_checksum: Mapped[str | None]  # sha256 of the evaluated data
    eval_license: Mapped[str | None]
    n_examples: Mapped[int | None]
    examples_per_s: Mapped[float | None]
    primary_metric: Mapped[str | None]  # the task's headline metric, a key of metrics
    metrics: Mapped[dict[str, Any]]  # name -> value
    ci95: Mapped[dict[str, Any]]  # name -> [low, high]

    run: Mapped[BenchmarkRun] = relationship(back_populates="results")


class EvidenceSource(Base):
    """One import of quality evidence; re-importing the same key replaces its rows."""

    __table__ = schema.evidence_sources

    key: Mapped[str]
    kind: Mapped[str]
    name: Mapped[str]
    format: Mapped[str]
    location: Mapped[str]
    revision: Mapped[str | None]
    published_at: Mapped[datetime | None]
    imported_at: Mapped[datetime]
    rows_read: Mapped[int]
    rows_imported: Mapped[int]
    skipped: Mapped[dict[str, int]]


class Evidence(Base):
    """A published or measured result on one benchmark + metric + protocol, on the metric's canonical scale."""

    __table__ = schema.evidence

    id: Mapped[int]
    source_key: Mapped[str]
    model_id: Mapped[str]
    task_id: Mapped[str | None]
    dataset: Mapped[str]
    dataset_config: Mapped[str | None]
    split: Mapped[str | None]
    metric: Mapped[str]
    metric_raw: Mapped[str]
    value: Mapped[float]
    higher_is_better: Mapped[bool]
    n_shot: Mapped[int | None]
    protocol: Mapped[str | None]
    harness: Mapped[str | None]
    harness_version: Mapped[str | None]
    source_kind: Mapped[str]
    source_name: Mapped[str]
    source_url: Mapped[str | None]
    source_date: Mapped[datetime | None]
    self_reported: Mapped[bool]
    verified: Mapped[bool]
    n_examples: Mapped[int | None]
    details: Mapped[dict[str, Any]]


class ReportedFact(Base):
    """A fact a source reports about a model besides results (parameters, license, release date ...)."""

    __table__ = schema.reported_facts

    source_key: Mapped[str]
    model_id: Mapped[str]
    fact: Mapped[str]
    value: Mapped[Any]
