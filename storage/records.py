"""Typed records that callers hand to and get back from :class:`storage.store.ResultStore`.

These are plain pydantic models, independent of the SQL tables in
:mod:`storage.models`, so flows and the CLI never touch SQLModel directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["completed", "failed"]
Verdict = Literal["pass", "fail", "inconclusive", "none"]

RESULT_COLUMNS: tuple[str, ...] = (
    "run_id",
    "suite",
    "suite_hash",
    "dataset",
    "model",
    "model_sha",
    "role",
    "variant",
    "slice",
    "metric",
    "metric_version",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "created_at",
    "ci_method",
)
"""Columns of a long-format results row, in order (one row per run × dataset × model × variant × slice × metric).

``ci_method`` names how the interval was made (``bootstrap``, ``bootstrap-cells``,
``normal-sums``, ``delong``: :mod:`evaluators.intervals`). It is optional on
commit and stored as given, NULL when absent; runs committed before it was
stored have no such column in their Parquet file nor value in the index.
Readers show those rows as :data:`LEGACY_CI_METHOD`.
"""

LEGACY_CI_METHOD = "bootstrap"
"""The interval method of a row that carries a CI but no recorded method: every
interval was the exact row bootstrap before the method was chosen per slice size."""

RESULT_KEY: tuple[str, ...] = ("run_id", "dataset", "model", "variant", "slice", "metric")
"""Columns that identify one results row; unique within the index."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelVersionRecord(_Record):
    """One model checkpoint a run evaluated.

    Attributes:
        name: Model name from the suite.
        sha256: Checksum of the checkpoint file.
        format: Model format name (e.g. ``torch``, ``skops``).
        path: Checkpoint path as the suite gave it.
        role: ``candidate`` or ``baseline``.
        version: Free-form version label, if the suite gives one.
    """

    name: str
    sha256: str
    format: str
    path: str
    role: str
    version: str | None = None


class DatasetVersionRecord(_Record):
    """One dataset a run read, pinned by checksum.

    Attributes:
        name: Dataset name from the suite.
        sha256: Checksum of the data as read.
        rows: Number of rows evaluated.
        source: Path or loader the rows came from.
    """

    name: str
    sha256: str
    rows: int
    source: str


class ArtifactRecord(_Record):
    """A file a run produced (report, plot, drift HTML).

    Attributes:
        kind: What the artifact is, e.g. ``drift_report``.
        uri: Where it lives; paths under the run's staging folder are rewritten
            to the committed run folder by :meth:`ResultStore.commit_run`.
        description: One line for humans.
    """

    kind: str
    uri: str
    description: str = ""


class RunRecord(_Record):
    """Everything the index knows about one run, except its metric rows.

    Attributes:
        run_id: Unique id; committing the same id again replaces the run.
        suite: Suite name.
        suite_hash: Fingerprint of the suite's normalised content.
        started_at: When the run started (naive values are taken as UTC).
        finished_at: When it finished, if it did.
        status: ``completed`` or ``failed``; history reads only completed runs.
        verdict: Gate verdict of the run.
        trigger: What started it (``manual``, ``schedule``, ``event``...).
        provenance: JSON-able dict from :func:`storage.provenance.collect_provenance`.
        models: Model versions evaluated.
        datasets: Dataset versions read.
        artifacts: Files produced.
    """

    run_id: str
    suite: str
    suite_hash: str
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    verdict: Verdict
    trigger: str = "manual"
    provenance: dict[str, Any] = Field(default_factory=dict)
    models: list[ModelVersionRecord] = Field(default_factory=list)
    datasets: list[DatasetVersionRecord] = Field(default_factory=list)
    artifacts: list[ArtifactRecord] = Field(default_factory=list)
