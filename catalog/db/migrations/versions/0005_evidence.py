"""quality evidence: sources, results, reported facts, and each task's benchmarks

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 13:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("benchmarks", sa.JSON(), server_default="[]", nullable=False))
    op.create_table(
        "evidence_sources",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("format", sa.String(length=32), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("revision", sa.String(length=64), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("model_id", sa.String(length=255), nullable=False),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("dataset", sa.String(length=255), nullable=False),
        sa.Column("dataset_config", sa.String(length=128), nullable=True),
        sa.Column("split", sa.String(length=64), nullable=True),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("metric_raw", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("higher_is_better", sa.Boolean(), nullable=False),
        sa.Column("n_shot", sa.Integer(), nullable=True),
        sa.Column("protocol", sa.String(length=128), nullable=True),
        sa.Column("harness", sa.String(length=64), nullable=True),
        sa.Column("harness_version", sa.String(length=32), nullable=True),
        sa.Column("source_kind", sa.String(length=32), nullable=False),
        sa.Column("source_name", sa.String(length=128), nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("source_date", sa.DateTime(), nullable=True),
        sa.Column("self_reported", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("n_examples", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["source_key"], ["evidence_sources.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_source_key"), ["source_key"], unique=False)
        batch_op.create_index("ix_evidence_model", ["model_id", "task_id"], unique=False)
        batch_op.create_index("ix_evidence_task", ["task_id", "dataset", "metric"], unique=False)
        batch_op.create_index("ix_evidence_dataset", ["dataset"], unique=False)
    op.create_table(
        "reported_facts",
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("model_id", sa.String(length=255), nullable=False),
        sa.Column("fact", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["source_key"], ["evidence_sources.key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_key", "model_id", "fact"),
    )
    with op.batch_alter_table("reported_facts", schema=None) as batch_op:
        batch_op.create_index("ix_reported_facts_model", ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reported_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_reported_facts_model")
    op.drop_table("reported_facts")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_dataset")
        batch_op.drop_index("ix_evidence_task")
        batch_op.drop_index("ix_evidence_model")
        batch_op.drop_index(batch_op.f("ix_evidence_source_key"))
    op.drop_table("evidence")
    op.drop_table("evidence_sources")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("benchmarks")
