"""The catalog's tables, as a typed SQLAlchemy 2.0 ORM.

Model rows carry the provenance of their facts (`provenance`: field -> where it came from) and timestamps for
when they were created, updated and last synced from the Hub.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        dict[str, Any]: JSON,
        list[str]: JSON,
        datetime: DateTime(),
    }


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


task_architectures = Table(
    "task_architectures",
    Base.metadata,
    Column("task_id", String(64), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("architecture_id", String(64), ForeignKey("architectures.id", ondelete="CASCADE"), primary_key=True),
)


class Architecture(Timestamped, Base):
    __tablename__ = "architectures"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(32))
    attention: Mapped[str] = mapped_column(Text)
    objective: Mapped[str] = mapped_column(Text)
    suits: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")

    families: Mapped[list[Family]] = relationship(back_populates="architecture", order_by="Family.position")


class Task(Timestamped, Base):
    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    modality: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    metrics: Mapped[list[str]] = mapped_column(JSON, default=list)

    aliases: Mapped[list[TaskAlias]] = relationship(
        back_populates="task", cascade="all, delete-orphan", order_by="TaskAlias.position"
    )
    architectures: Mapped[list[Architecture]] = relationship(
        secondary=task_architectures, order_by="Architecture.position"
    )

    @property
    def alias_names(self) -> list[str]:
        return [a.alias for a in self.aliases]


class TaskAlias(Base):
    __tablename__ = "task_aliases"

    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)

    task: Mapped[Task] = relationship(back_populates="aliases")


class Family(Timestamped, Base):
    __tablename__ = "families"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    architecture_id: Mapped[str] = mapped_column(ForeignKey("architectures.id"), index=True)
    objective: Mapped[str] = mapped_column(Text)
    organization: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    open_weights: Mapped[bool] = mapped_column(Boolean)
    api_only: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")

    architecture: Mapped[Architecture] = relationship(back_populates="families")
    model_types: Mapped[list[FamilyModelType]] = relationship(
        back_populates="family", cascade="all, delete-orphan", order_by="FamilyModelType.model_type"
    )


class FamilyModelType(Base):
    """Maps a config.json model_type to its family (one family per model_type)."""

    __tablename__ = "family_model_types"

    model_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(ForeignKey("families.id", ondelete="CASCADE"), index=True)

    family: Mapped[Family] = relationship(back_populates="model_types")


class Model(Timestamped, Base):
    """A checkpoint (Hub id) or an API-only model. Facts may come from catalog.yaml, the Hub or a snapshot."""

    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    pipeline_tag: Mapped[str | None] = mapped_column(String(64), index=True)
    family_id: Mapped[str | None] = mapped_column(ForeignKey("families.id", ondelete="SET NULL"), index=True)
    architecture_id: Mapped[str | None] = mapped_column(ForeignKey("architectures.id", ondelete="SET NULL"), index=True)
    model_type: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[int | None] = mapped_column(BigInteger, index=True)
    license: Mapped[str | None] = mapped_column(String(64), index=True)
    library: Mapped[str | None] = mapped_column(String(64))
    gated: Mapped[bool] = mapped_column(Boolean, default=False)
    api_only: Mapped[bool] = mapped_column(Boolean, default=False)
    curated: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    downloads: Mapped[int | None] = mapped_column(BigInteger, index=True)
    likes: Mapped[int | None] = mapped_column(Integer)
    base_model: Mapped[str | None] = mapped_column(String(255))
    context_length: Mapped[int | None] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(255), default="catalog.yaml")
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hub_last_modified: Mapped[datetime | None] = mapped_column()
    hub_created_at: Mapped[datetime | None] = mapped_column()
    synced_at: Mapped[datetime | None] = mapped_column(index=True)
    author: Mapped[str | None] = mapped_column(String(128))
    sha: Mapped[str | None] = mapped_column(String(64))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # Digest of the Hub fields a sync last wrote: an unchanged model is skipped without a write.
    hub_digest: Mapped[str | None] = mapped_column(String(64))

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
    __tablename__ = "model_languages"
    __table_args__ = (Index("ix_model_languages_language", "language", "model_id"),)

    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ModelTask(Base):
    """Tasks a model serves. Not a foreign key to tasks: the Hub has pipeline tags the taxonomy does not curate."""

    __tablename__ = "model_tasks"
    __table_args__ = (Index("ix_model_tasks_task", "task_id", "model_id"),)

    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ReportedMetric(Base):
    """A figure the model card or paper reports (never measured here)."""

    __tablename__ = "reported_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    scale: Mapped[str] = mapped_column(String(16), default="raw")
    dataset: Mapped[str] = mapped_column(String(255))
    split: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(Boolean, default=False)


class SyncState(Base):
    """Progress of one Hub listing (a task + sort + filters): the next page to fetch survives a crash, so a killed
    sync resumes where it stopped. Updated in the same transaction as the page it follows."""

    __tablename__ = "sync_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    query: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_url: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    models: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()


class CatalogMeta(Base):
    """Key-value facts about the database itself (e.g. the digest of the catalog.yaml it was seeded from)."""

    __tablename__ = "catalog_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class BenchmarkRun(Base):
    """One `catalog bench run`: what was asked, on which hardware and software. machine_id (a digest of the stable
    hardware facts) finds "results measured on this machine"."""

    __tablename__ = "benchmark_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | finished | interrupted | failed
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    hardware: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    software: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    machine_id: Mapped[str] = mapped_column(String(32), index=True)

    results: Mapped[list[BenchmarkResult]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="BenchmarkResult.id"
    )


class BenchmarkResult(Base):
    """One (model, shape) of a run: latency statistics with the raw samples, throughput, memory, efficiency, or
    the reason it failed. model_id is the catalog/Hub id or the local path that was benchmarked."""

    __tablename__ = "benchmark_results"
    __table_args__ = (Index("ix_benchmark_results_lookup", "model_id", "task_id", "batch_size", "seq_len", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("benchmark_runs.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(String(255))
    task_id: Mapped[str | None] = mapped_column(String(64))
    batch_size: Mapped[int] = mapped_column(Integer)
    seq_len: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(16))
    dtype: Mapped[str] = mapped_column(String(16))
    weights: Mapped[str] = mapped_column(String(16), default="real")  # real | random
    provenance: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # ok | failed | timeout | oom | interrupted
    error: Mapped[str | None] = mapped_column(Text)
    latency_p50_ms: Mapped[float | None] = mapped_column(Float)
    latency_p90_ms: Mapped[float | None] = mapped_column(Float)
    latency_p95_ms: Mapped[float | None] = mapped_column(Float)
    latency_p99_ms: Mapped[float | None] = mapped_column(Float)
    latency_mean_ms: Mapped[float | None] = mapped_column(Float)
    latency_stdev_ms: Mapped[float | None] = mapped_column(Float)
    latency_cov: Mapped[float | None] = mapped_column(Float)
    iterations: Mapped[int | None] = mapped_column(Integer)
    throughput_items_s: Mapped[float | None] = mapped_column(Float)
    throughput_tokens_s: Mapped[float | None] = mapped_column(Float)
    prefill_ms: Mapped[float | None] = mapped_column(Float)
    decode_ms_per_token: Mapped[float | None] = mapped_column(Float)
    load_time_s: Mapped[float | None] = mapped_column(Float)
    peak_rss_load_mb: Mapped[float | None] = mapped_column(Float)
    peak_rss_infer_mb: Mapped[float | None] = mapped_column(Float)
    flops_per_forward: Mapped[int | None] = mapped_column(BigInteger)
    achieved_gflops: Mapped[float | None] = mapped_column(Float)
    peak_fraction: Mapped[float | None] = mapped_column(Float)
    samples_ms: Mapped[list[float]] = mapped_column(JSON, default=list)
    unstable: Mapped[bool] = mapped_column(Boolean, default=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # converged, CUDA memory, notes
    # Accuracy on labelled data, measured in the same run as the speed (benchmark harness II).
    eval_set: Mapped[str | None] = mapped_column(String(128))  # registry name, or file:<name> for user files
    eval_checksum: Mapped[str | None] = mapped_column(String(64))  # sha256 of the evaluated data
    eval_license: Mapped[str | None] = mapped_column(String(64))
    n_examples: Mapped[int | None] = mapped_column(Integer)
    examples_per_s: Mapped[float | None] = mapped_column(Float)
    primary_metric: Mapped[str | None] = mapped_column(String(64))  # the task's headline metric, a key of metrics
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")  # name -> value
    ci95: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")  # name -> [low, high]

    run: Mapped[BenchmarkRun] = relationship(back_populates="results")
