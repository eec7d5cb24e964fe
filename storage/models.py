"""SQL tables of the run index, in SQLModel's tutorial shape.

Each table has a ``…Base`` with the shared fields and a ``table=True`` class
that adds the primary key and the indexed query columns. Child rows refer to a
run by its ``run_id`` string, so a re-run can delete and rewrite them by key.
The schema is created by the Alembic migrations in ``storage/migrations``;
``tests/storage`` checks the two never drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _utc_column(*, nullable: bool, index: bool = False) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class RunBase(SQLModel):
    """Fields shared by every view of a run."""

    suite: str = Field(index=True)
    suite_hash: str
    status: str = Field(index=True)
    verdict: str
    trigger: str = "manual"


class Run(RunBase, table=True):
    """One evaluation run; its ``run_id`` is the key every other table refers to."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(unique=True, index=True)
    started_at: datetime = _utc_column(nullable=False, index=True)
    finished_at: datetime | None = _utc_column(nullable=True)
    provenance: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ModelVersionBase(SQLModel):
    """A model checkpoint as one run saw it."""

    name: str
    sha256: str
    format: str
    path: str
    role: str
    version: str | None = None


class ModelVersion(ModelVersionBase, table=True):
    """Model versions per run; ``(name, sha256)`` finds every run of one checkpoint."""

    __tablename__ = "model_version"
    __table_args__ = (Index("ix_model_version_name_sha256", "name", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.run_id", index=True)


class DatasetVersionBase(SQLModel):
    """A dataset as one run read it."""

    name: str
    sha256: str
    rows: int
    source: str


class DatasetVersion(DatasetVersionBase, table=True):
    """Dataset versions per run; ``(name, sha256)`` finds every run on one data version."""

    __tablename__ = "dataset_version"
    __table_args__ = (Index("ix_dataset_version_name_sha256", "name", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.run_id", index=True)


class MetricSummaryBase(SQLModel):
    """One results row: a metric of one model on one dataset variant and slice."""

    suite: str
    suite_hash: str
    dataset: str
    model: str
    model_sha: str
    role: str
    variant: str
    slice: str
    metric: str
    metric_version: str
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    ci_method: str | None = None  # NULL on rows committed before migration 0002 (read as "bootstrap")


class MetricSummary(MetricSummaryBase, table=True):
    """Metric summaries, unique per run × dataset × model × variant × slice × metric."""

    __tablename__ = "metric_summary"
    __table_args__ = (
        UniqueConstraint("run_id", "dataset", "model", "variant", "slice", "metric", name="uq_metric_summary_key"),
        Index("ix_metric_summary_history", "suite", "metric", "slice", "variant"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.run_id", index=True)
    created_at: datetime = _utc_column(nullable=False)


class ArtifactBase(SQLModel):
    """A file a run produced."""

    kind: str
    uri: str
    description: str = ""


class Artifact(ArtifactBase, table=True):
    """Artifacts per run."""

    __tablename__ = "artifact"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="run.run_id", index=True)
