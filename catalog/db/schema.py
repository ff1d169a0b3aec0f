"""The catalog's tables as SQLAlchemy Core `Table` objects: the one definition of the schema.

The read path (`catalog tasks`, `catalog recommend`, listings) queries these tables with Core and never imports
the ORM, which keeps start-up light; the writers (seeding, Hub sync, benchmark storage) use the typed ORM classes
in `catalog.db.models`, which are mapped onto these same tables. Alembic migrations create them; a test checks
that migrating an empty database gives exactly this metadata.
"""

from __future__ import annotations

from datetime import datetime

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
    MetaData,
    String,
    Table,
    Text,
)

from catalog.db.meta import utcnow

__all__ = ["metadata", "utcnow"]  # utcnow: the columns' default, kept importable from here

metadata = MetaData()


def _timestamps() -> tuple[Column[datetime], Column[datetime]]:
    return (
        Column("created_at", DateTime(), nullable=False, default=utcnow),
        Column("updated_at", DateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    )


architectures = Table(
    "architectures",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("name_en", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("modality", String(32), nullable=False),
    Column("attention", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("suits", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    *_timestamps(),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("name_en", String(200), nullable=False),
    Column("name_zh", String(200), nullable=False),
    Column("modality", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("metrics", JSON, nullable=False, default=list),
    # The benchmarks that define quality for the task (catalog.yaml `benchmarks`), as seeded: the ranking reads them
    # from here, so the recommend path never parses the taxonomy file.
    Column("benchmarks", JSON, nullable=False, default=list, server_default="[]"),
    *_timestamps(),
)

task_architectures = Table(
    "task_architectures",
    metadata,
    Column("task_id", String(64), ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    Column("architecture_id", String(64), ForeignKey("architectures.id", ondelete="CASCADE"), primary_key=True),
)

task_aliases = Table(
    "task_aliases",
    metadata,
    Column("alias", String(64), primary_key=True),
    Column("task_id", String(64), ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False, default=0),
)

families = Table(
    "families",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Column("name", String(200), nullable=False),
    Column("architecture_id", String(64), ForeignKey("architectures.id"), nullable=False, index=True),
    Column("objective", Text, nullable=False),
    Column("organization", String(200), nullable=False),
    Column("year", Integer, nullable=False),
    Column("open_weights", Boolean, nullable=False),
    Column("api_only", Boolean, nullable=False, default=False),
    Column("description", Text, nullable=False, default=""),
    *_timestamps(),
)

# Maps a config.json model_type to its family (one family per model_type).
family_model_types = Table(
    "family_model_types",
    metadata,
    Column("model_type", String(64), primary_key=True),
    Column("family_id", String(64), ForeignKey("families.id", ondelete="CASCADE"), nullable=False, index=True),
)

# A checkpoint (Hub id) or an API-only model. Facts may come from catalog.yaml, the Hub or a snapshot; `provenance`
# says where each came from.
models = Table(
    "models",
    metadata,
    Column("id", String(255), primary_key=True),
    Column("pipeline_tag", String(64), index=True),
    Column("family_id", String(64), ForeignKey("families.id", ondelete="SET NULL"), index=True),
    Column("architecture_id", String(64), ForeignKey("architectures.id", ondelete="SET NULL"), index=True),
    Column("model_type", String(64)),
    Column("params", BigInteger, index=True),
    Column("license", String(64), index=True),
    Column("library", String(64)),
    Column("gated", Boolean, nullable=False, default=False),
    Column("api_only", Boolean, nullable=False, default=False),
    Column("curated", Boolean, nullable=False, default=False, index=True),
    Column("downloads", BigInteger, index=True),
    Column("likes", Integer),
    Column("base_model", String(255)),
    Column("context_length", Integer),
    Column("description", Text, nullable=False, default=""),
    Column("source", String(255), nullable=False, default="catalog.yaml"),
    Column("provenance", JSON, nullable=False, default=dict),
    Column("hub_last_modified", DateTime()),
    Column("hub_created_at", DateTime()),
    Column("synced_at", DateTime(), index=True),
    Column("author", String(128)),
    Column("sha", String(64)),
    Column("tags", JSON, nullable=False, default=list, server_default="[]"),
    # Digest of the Hub fields a sync last wrote: an unchanged model is skipped without a write.
    Column("hub_digest", String(64)),
    *_timestamps(),
)

model_languages = Table(
    "model_languages",
    metadata,
    Column("model_id", String(255), ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(32), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_model_languages_language", "language", "model_id"),
)

# Tasks a model serves. Not a foreign key to tasks: the Hub has pipeline tags the taxonomy does not curate.
model_tasks = Table(
    "model_tasks",
    metadata,
    Column("model_id", String(255), ForeignKey("models.id", ondelete="CASCADE"), primary_key=True),
    Column("task_id", String(64), primary_key=True),
    Column("position", Integer, nullable=False, default=0),
    Index("ix_model_tasks_task", "task_id", "model_id"),
)

# A figure the model card or paper reports (never measured here).
reported_metrics = Table(
    "reported_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", String(255), ForeignKey("models.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("task_id", String(64)),
    Column("metric", String(64), nullable=False),
    Column("value", Float, nullable=False),
    Column("scale", String(16), nullable=False, default="raw"),
    Column("dataset", String(255), nullable=False),
    Column("split", String(64)),
    Column("source", Text, nullable=False),
    Column("verified", Boolean, nullable=False, default=False),
)

# Progress of one Hub listing (a task + sort + filters): the next page to fetch survives a crash, so a killed sync
# resumes where it stopped. Updated in the same transaction as the page it follows.
sync_state = Table(
    "sync_state",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("task_id", String(64), index=True),
    Column("query", JSON, nullable=False, default=dict),
    Column("next_url", Text),
    Column("pages", Integer, nullable=False, default=0),
    Column("models", Integer, nullable=False, default=0),
    Column("skipped", Integer, nullable=False, default=0),
    Column("started_at", DateTime(), nullable=False, default=utcnow),
    Column("updated_at", DateTime(), nullable=False, default=utcnow, onupdate=utcnow),
    Column("completed_at", DateTime()),
)

# Key-value facts about the database itself (e.g. the digest of the catalog.yaml it was seeded from).
catalog_meta = Table(
    "catalog_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One `catalog bench run`: what was asked, on which hardware and software. machine_id (a digest of the stable
# hardware facts) finds "results measured on this machine".
benchmark_runs = Table(
    "benchmark_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(), nullable=False, default=utcnow, index=True),
    Column("finished_at", DateTime()),
    Column("status", String(16), nullable=False, default="running"),  # running | finished | interrupted | failed
    Column("options", JSON, nullable=False, default=dict),
    Column("hardware", JSON, nullable=False, default=dict),
    Column("software", JSON, nullable=False, default=dict),
    Column("machine_id", String(32), nullable=False, index=True),
)

# One (model, shape) of a run: latency statistics with the raw samples, throughput, memory, efficiency, or the
# reason it failed. model_id is the catalog/Hub id or the local path that was benchmarked.
benchmark_results = Table(
    "benchmark_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("benchmark_runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("model_id", String(255), nullable=False),
    Column("task_id", String(64)),
    Column("batch_size", Integer, nullable=False),
    Column("seq_len", Integer, nullable=False),
    Column("device", String(16), nullable=False),
    Column("dtype", String(16), nullable=False),
    Column("weights", String(16), nullable=False, default="real"),  # real | random
    Column("provenance", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # ok | failed | timeout | oom | interrupted
    Column("error", Text),
    Column("latency_p50_ms", Float),
    Column("latency_p90_ms", Float),
    Column("latency_p95_ms", Float),
    Column("latency_p99_ms", Float),
    Column("latency_mean_ms", Float),
    Column("latency_stdev_ms", Float),
    Column("latency_cov", Float),
    Column("iterations", Integer),
    Column("throughput_items_s", Float),
    Column("throughput_tokens_s", Float),
    Column("prefill_ms", Float),
    Column("decode_ms_per_token", Float),
    Column("load_time_s", Float),
    Column("peak_rss_load_mb", Float),
    Column("peak_rss_infer_mb", Float),
    Column("flops_per_forward", BigInteger),
    Column("achieved_gflops", Float),
    Column("peak_fraction", Float),
    Column("samples_ms", JSON, nullable=False, default=list),
    Column("unstable", Boolean, nullable=False, default=False),
    Column("details", JSON, nullable=False, default=dict),  # converged, CUDA memory, notes
    # Accuracy on labelled data, measured in the same run as the speed (benchmark harness II).
    Column("eval_set", String(128)),  # registry name, or file:<name> for user files
    Column("eval_checksum", String(64)),  # sha256 of the evaluated data
    Column("eval_license", String(64)),
    Column("n_examples", Integer),
    Column("examples_per_s", Float),
    Column("primary_metric", String(64)),  # the task's headline metric, a key of metrics
    Column("metrics", JSON, nullable=False, default=dict, server_default="{}"),  # name -> value
    Column("ci95", JSON, nullable=False, default=dict, server_default="{}"),  # name -> [low, high]
    Index("ix_benchmark_results_lookup", "model_id", "task_id", "batch_size", "seq_len", "status"),
)

# One import of quality evidence (a results repository, a leaderboard table, a model card, a user's CSV ...).
# `key` identifies the source for idempotence: re-importing the same source replaces its rows, never duplicates them.
evidence_sources = Table(
    "evidence_sources",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("kind", String(32), nullable=False),  # model-card | leaderboard | paper | user | hub | measured | curated
    Column("name", String(128), nullable=False),  # e.g. mteb-results, open-llm-leaderboard-v1, spacy-meta
    Column("format", String(32), nullable=False),  # the importer that read it
    Column("location", Text, nullable=False),  # path or URL, credentials redacted
    Column("revision", String(64)),  # upstream commit or file digest
    Column("published_at", DateTime()),  # when the source says its results are from
    Column("imported_at", DateTime(), nullable=False, default=utcnow),
    Column("rows_read", Integer, nullable=False, default=0),
    Column("rows_imported", Integer, nullable=False, default=0),
    Column("skipped", JSON, nullable=False, default=dict),  # reason -> count
)

# One published or measured result: a model's value for one metric on one benchmark (dataset, config, split) under
# one protocol, on the metric's canonical scale (see data/metrics.yaml). Not a foreign key to models: evidence may
# arrive before (or without) the model's catalog row, and is matched by id.
evidence = Table(
    "evidence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "source_key", String(255), ForeignKey("evidence_sources.key", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("model_id", String(255), nullable=False),
    Column("task_id", String(64)),  # a taxonomy task id, when the result says which task it measures
    Column("dataset", String(255), nullable=False),  # canonical dataset id (e.g. mteb/Banking77Classification)
    Column("dataset_config", String(128)),  # config / subset (e.g. en), null when the dataset has none
    Column("split", String(64)),
    Column("metric", String(64), nullable=False),  # canonical metric name (data/metrics.yaml)
    Column("metric_raw", String(128), nullable=False),  # as the source wrote it
    Column("value", Float, nullable=False),  # on the metric's canonical scale
    Column("higher_is_better", Boolean, nullable=False),
    Column("n_shot", Integer),
    Column("protocol", String(128)),  # prompt / chain-of-thought / scoring variant, when it matters
    Column("harness", String(64)),  # e.g. lm-evaluation-harness, mteb
    Column("harness_version", String(32)),
    Column("source_kind", String(32), nullable=False),  # as evidence_sources.kind, per row (a card in a repo ...)
    Column("source_name", String(128), nullable=False),
    Column("source_url", Text),
    Column("source_date", DateTime()),
    Column("self_reported", Boolean, nullable=False, default=True),
    Column("verified", Boolean, nullable=False, default=False),
    Column("n_examples", Integer),
    Column("details", JSON, nullable=False, default=dict),
    Index("ix_evidence_model", "model_id", "task_id"),
    Index("ix_evidence_task", "task_id", "dataset", "metric"),
    Index("ix_evidence_dataset", "dataset"),  # a task's benchmarks also read rows of other tasks by dataset
)

# Facts a source reports about a model other than results (MTEB model_meta: parameters, license, release date ...).
reported_facts = Table(
    "reported_facts",
    metadata,
    Column("source_key", String(255), ForeignKey("evidence_sources.key", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String(255), primary_key=True),
    Column("fact", String(64), primary_key=True),  # params | license | release_date | languages | ...
    Column("value", JSON, nullable=False),
    Index("ix_reported_facts_model", "model_id"),
)
