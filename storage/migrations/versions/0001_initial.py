"""Initial index schema: runs, model and dataset versions, metric summaries, artifacts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _run_id_column() -> sa.Column:
    return sa.Column("run_id", sa.String(), sa.ForeignKey("run.run_id"), nullable=False)


def upgrade() -> None:
    """Create every table of the index."""
    op.create_table(
        "run",
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("suite_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provenance", sa.JSON(), nullable=False),
    )
    op.create_index("ix_run_run_id", "run", ["run_id"], unique=True)
    op.create_index("ix_run_suite", "run", ["suite"])
    op.create_index("ix_run_status", "run", ["status"])
    op.create_index("ix_run_started_at", "run", ["started_at"])

    op.create_table(
        "model_version",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("format", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=True),
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_id_column(),
    )
    op.create_index("ix_model_version_run_id", "model_version", ["run_id"])
    op.create_index("ix_model_version_name_sha256", "model_version", ["name", "sha256"])

    op.create_table(
        "dataset_version",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_id_column(),
    )
    op.create_index("ix_dataset_version_run_id", "dataset_version", ["run_id"])
    op.create_index("ix_dataset_version_name_sha256", "dataset_version", ["name", "sha256"])

    op.create_table(
        "metric_summary",
        sa.Column("suite", sa.String(), nullable=False),
        sa.Column("suite_hash", sa.String(), nullable=False),
        sa.Column("dataset", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("model_sha", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("variant", sa.String(), nullable=False),
        sa.Column("slice", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("metric_version", sa.String(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_id_column(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("run_id", "dataset", "model", "variant", "slice", "metric", name="uq_metric_summary_key"),
    )
    op.create_index("ix_metric_summary_run_id", "metric_summary", ["run_id"])
    op.create_index("ix_metric_summary_history", "metric_summary", ["suite", "metric", "slice", "variant"])

    op.create_table(
        "artifact",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), primary_key=True),
        _run_id_column(),
    )
    op.create_index("ix_artifact_run_id", "artifact", ["run_id"])


def downgrade() -> None:
    """Drop every table of the index, children first."""
    for table in ("artifact", "metric_summary", "dataset_version", "model_version", "run"):
        op.drop_table(table)
