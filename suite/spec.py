"""The suite spec: frozen, typed pydantic models validated at the edge.

A suite names the models to evaluate (a candidate and usually a baseline), the
datasets to evaluate them on, the metrics, slices and gates, and the seed that
makes every random choice repeatable. Paths are kept as written (relative to
the suite file) so a suite's fingerprint is the same on every machine;
:meth:`SuiteSpec.resolve` turns them into absolute paths.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, PositiveInt, PrivateAttr, model_validator

from suite.base import Frozen
from suite.data_spec import DatasetSpec
from suite.errors import VigilError
from suite.sections import DriftSpec, MetricDriftSpec, PerturbationSpec, RobustnessSpec

__all__ = ["Frozen", "SuiteSpec", "ModelSpec", "DatasetSpec", "GateSpec"]

Sha256 = str


class ModelSpec(Frozen):
    """One model to evaluate.

    ``module`` names the ``nn.Module`` class for ``torch_state_dict`` or the
    function for ``callable``, as ``path/to/file.py:Name`` (relative to the
    suite) or ``package.module:Name``. ``module_sha256`` pins that file like
    ``sha256`` pins the checkpoint: a mismatch is refused before it is imported.
    ``precision`` (torch formats) is what the model computes in: ``fp32`` (strict,
    TF32 off), ``tf32``, or ``bf16``/``fp16`` autocast; it is left out of the suite's
    fingerprint while it is the default ``fp32``, so existing suites keep theirs.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    format: str
    path: str | None = None
    sha256: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    module: str | None = None
    module_sha256: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", exclude_if=lambda pin: pin is None)
    init_args: dict[str, Any] = Field(default_factory=dict)
    output: Literal["auto", "logits", "probabilities", "labels", "values"] = "auto"
    input: Literal["array", "frame"] = "array"
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    batch_size: PositiveInt = 8192
    precision: Literal["fp32", "tf32", "bf16", "fp16"] = Field(default="fp32", exclude_if=lambda p: p == "fp32")
    role: Literal["candidate", "baseline"] = "candidate"
    version: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _has_its_path_and_pins(self) -> ModelSpec:
        if self.format != "callable" and self.path is None:
            raise ValueError(f"format {self.format!r} needs a path")
        if self.path is not None and self.sha256 is None:
            raise ValueError("a model file needs its sha256 pinned")
        if self.module_sha256 is not None and self.module is None:
            raise ValueError("module_sha256 pins a module file: give module too")
        return self


class SliceSpec(Frozen):
    """Slice results by a column: one slice per value, or per bin when ``bins`` are given."""

    column: str
    bins: list[float] | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """The slice family's name as stored with results."""
        return self.name or self.column


class BootstrapSpec(Frozen):
    """Bootstrap settings for confidence intervals."""

    resamples: PositiveInt = 1000
    confidence: float = Field(default=0.95, gt=0, lt=1)


class WorkersSpec(Frozen):
    """How many warm Ray actors serve each model, and their CPU/GPU share.

    A ``device: cuda`` model gets one actor per GPU unless ``num_actors`` is given (fractions
    only when ``gpus_per_actor`` is below 1). While the cluster has no room for the actors the
    run says what is free and waits up to ``start_timeout_s``.
    """

    num_actors: PositiveInt = 2
    cpus_per_actor: float = Field(default=1.0, gt=0)
    gpus_per_actor: float = Field(default=1.0, gt=0, le=8)
    max_retries: int = Field(default=3, ge=0)
    start_timeout_s: float = Field(default=300.0, gt=0)
    """How long a run waits for the cluster to place its actors (a shared cluster may be busy) before it fails; not retried."""
    shard_timeout_s: float = Field(default=1800.0, gt=0, exclude_if=lambda seconds: seconds == 1800.0)
    """How long an actor holding shards may finish none before it is stopped as stuck (a hung call, a wedged GPU) and its
    shards dealt again, within ``max_retries``; left out of the fingerprint at its default."""


class GateSpec(Frozen):
    """A threshold a candidate must meet: an absolute bound or a drop against the baseline."""

    metric: str
    model: str | None = None
    min: float | None = None
    max: float | None = None
    max_drop_vs: Literal["baseline", "last_pass"] | None = None
    max_drop: float | None = Field(default=None, ge=0)
    significance: float | None = Field(default=None, gt=0, lt=1)
    per_slice: bool = False
    min_slice_n: PositiveInt = 30
    variant: str = "clean"

    @model_validator(mode="after")
    def _has_a_bound(self) -> GateSpec:
        if self.min is None and self.max is None and self.max_drop is None:
            raise ValueError("a gate needs min, max or max_drop")
        if self.max_drop is not None and self.max_drop_vs is None:
            object.__setattr__(self, "max_drop_vs", "baseline")
        return self


class RobustnessGate(Frozen):
    """The candidate must hold up to a perturbation until at least ``min_breaking_severity``.

    A severity *breaks* the model when the metric drops from its clean value by
    more than ``max_drop`` (in the metric's bad direction). The gate fails when
    any severity below ``min_breaking_severity`` breaks it.

    Example (suite YAML)::

        robustness_gates:
          - {perturbation: gaussian_noise, metric: accuracy, max_drop: 0.05, min_breaking_severity: 3}
    """

    perturbation: str
    metric: str
    model: str | None = None
    max_drop: float = Field(ge=0)
    min_breaking_severity: PositiveInt


class DriftGate(Frozen):
    """At most ``max_drifted_share`` of the monitored columns may drift."""

    max_drifted_share: float = Field(ge=0, le=1)
    dataset: str | None = None


class CostSpec(Frozen):
    """A misclassification cost matrix ``{true: {pred: cost}}``; missing pairs cost 0.

    Keys are class indices or, when ``classes`` is given to :meth:`matrix`,
    class names. Costs must be non-negative.

    Example:
        >>> spec = CostSpec(matrix={1: {0: 5.0}, 0: {1: 1.0}})
        >>> spec.as_array(2).tolist()
        [[0.0, 1.0], [5.0, 0.0]]
            """

    matrix: dict[int | str, dict[int | str, float]]
    name: str = "expected_cost"

    @model_validator(mode="after")
    def _non_negative(self) -> CostSpec:
        for true, row in self.matrix.items():
            for pred, cost in row.items():
                if cost < 0:
                    raise ValueError(f"costs[{true}][{pred}]: expected a non-negative cost, got {cost}")
        return self

    def as_array(self, k: int, classes: Sequence[int | str] | None = None) -> np.ndarray:
        """The ``(k, k)`` cost matrix, rows true class, columns predicted class."""
        index = {c: i for i, c in enumerate(classes)} if classes is not None else {}

        def position(key: int | str, where: str) -> int:
            if key in index:
                return index[key]
            try:
                i = int(key)
            except (TypeError, ValueError):
                raise VigilError(f"costs: {where} {key!r}: expected a class in {list(index)}") from None
            if not 0 <= i < k:
                raise VigilError(f"costs: {where} {key!r}: expected a class index in 0..{k - 1}")
            return i

        out = np.zeros((k, k))
        for true, row in self.matrix.items():
            for pred, cost in row.items():
                out[position(true, "true class"), position(pred, "predicted class")] = cost
        return out


class ScheduleSpec(Frozen):
    """When the ``nightly`` deployment evaluates the suite, and how many of its runs may overlap.

    Not part of the suite's fingerprint: it changes when a suite runs, not what it measures.

    Example (suite YAML)::

        schedule: {cron: "30 1 * * *", timezone: Europe/Paris}
    """

    cron: str = Field(default="0 2 * * *", pattern=r"^\S+( \S+){4,5}$")
    timezone: str = "UTC"
    concurrency: PositiveInt = 1


class UpstreamVersion(Frozen):
    """One version of an upstream module: its code (``file.py:function``) and/or its data file, each optionally pinned."""

    module: str | None = Field(default=None, pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$")
    sha256: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    data: str | None = None
    data_sha256: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    version: str | None = None


UPSTREAM_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "transform": (("module",), ("module", "data")),
    "retriever": (("module", "data"), ("module", "data")),
    "data_snapshot": (("data",), ("data",)),
}
"""Upstream kind → (fields each version needs, fields it may have)."""


class UpstreamSpec(UpstreamVersion):
    """A stage upstream of every model, at its current version; it runs on the workers after any perturbation.

    Kinds:
        transform: ``module: file.py:fn`` maps a batch of features to features; with
            ``data:`` (e.g. fitted scaler parameters) it is called ``fn(features, data_path)``.
        retriever: ``module: file.py:fn`` called ``fn(features, data_path)`` with ``data:``
            its index or corpus, returning the features the models see.
        data_snapshot: ``data:`` a Parquet/CSV file keyed by ``sample_id`` holding the
            dataset's feature columns at one snapshot; rows take their features from it.

    With ``previous`` given, each run also evaluates the variant ``ablation@<name>``
    (that module rolled back) to attribute metric changes to it. ``datasets:``
    limits a module to some datasets (e.g. a snapshot of one dataset's rows).

    Example (suite YAML)::

        upstream:
          - name: scaler
            module: features_v2.py:transform
            previous: {module: features_v1.py:transform}
          - name: features
            kind: data_snapshot
            data: snapshots/2024-05.parquet
            previous: {data: snapshots/2024-04.parquet}
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["transform", "retriever", "data_snapshot"] = "transform"
    previous: UpstreamVersion | None = None
    datasets: list[str] | None = None

    def applies_to(self, dataset: str) -> bool:
        """Whether this module sits before the models on ``dataset`` (all datasets unless ``datasets:`` lists some)."""
        return self.datasets is None or dataset in self.datasets

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> UpstreamSpec:
        needs, allowed = UPSTREAM_FIELDS[self.kind]
        for where, version in (("", self), ("previous.", self.previous)):
            if version is None:
                continue
            for field in needs:
                if getattr(version, field) is None:
                    raise ValueError(f"{where}{field}: a {self.kind} module needs {field}")
            for field in ("module", "data"):
                if field not in allowed and getattr(version, field) is not None:
                    raise ValueError(f"{where}{field}: a {self.kind} module has no {field}")
        return self


class SuiteSpec(Frozen):
    """A whole evaluation suite, as validated from YAML.

    ``require_code_pins: true`` refuses a model ``module:`` file or an upstream
    module without its sha256 pin; by default a missing pin is a one-line warning.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    task: Literal["classification", "regression"]
    classes: list[int | str] | None = None
    models: list[ModelSpec] = Field(default_factory=list)
    datasets: list[DatasetSpec] = Field(min_length=1)
    metrics: list[str] | None = None
    primary_metric: str | None = None
    slices: list[SliceSpec] = Field(default_factory=list)
    seed: int = 0
    bootstrap: BootstrapSpec = BootstrapSpec()
    workers: WorkersSpec = WorkersSpec()
    perturbations: list[PerturbationSpec] = Field(default_factory=list)
    robustness: RobustnessSpec = Field(default_factory=lambda: RobustnessSpec())
    gates: list[GateSpec] = Field(default_factory=list)
    robustness_gates: list[RobustnessGate] = Field(default_factory=list)
    drift_gate: DriftGate | None = None
    costs: CostSpec | None = None
    drift: DriftSpec | None = None
    metric_drift: MetricDriftSpec = Field(default_factory=lambda: MetricDriftSpec())
    gate_bound_policy: Literal["ci", "point"] = "ci"
    inconclusive_as: Literal["fail", "pass", "inconclusive"] = "fail"
    schedule: ScheduleSpec | None = Field(default=None, exclude=True)
    upstream: list[UpstreamSpec] = Field(default_factory=list, exclude_if=lambda modules: not modules)
    require_code_pins: bool = Field(default=False, exclude_if=lambda required: not required)

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _source: str = PrivateAttr(default="<suite>")

    @model_validator(mode="after")
    def _names_are_unique(self) -> SuiteSpec:
        for field in ("models", "datasets", "upstream"):
            names = [item.name for item in getattr(self, field)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{field}: duplicate name {dupes[0]!r}")
        names = {d.name for d in self.datasets}
        for i, module in enumerate(self.upstream):
            unknown = [d for d in module.datasets or [] if d not in names]
            if unknown:
                raise ValueError(f"upstream[{i}].datasets: expected dataset names {sorted(names)}, got {unknown[0]!r}")
        if not self.models:
            gated = "gates" if self.gates else "robustness_gates" if self.robustness_gates else "drift_gate" if self.drift_gate else None
            if self.drift is None or gated:
                why = f"{gated} need models" if gated else "a suite without models needs a drift: section to watch logged outputs"
                raise ValueError(f"models: expected at least 1 model ({why}), got 0")
        elif not any(d.use == "evaluation" for d in self.datasets):
            raise ValueError("datasets: at least one dataset needs use: evaluation")
        if self.drift is not None:
            refs = [d.name for d in self.datasets if d.use == "reference"]
            if self.drift.reference not in refs:
                raise ValueError(f"drift.reference: expected a dataset with use: reference {refs}, got {self.drift.reference!r}")
        return self

    def bind(self, base_dir: Path, source: str) -> SuiteSpec:
        """Remember where the suite file lives, so relative paths resolve against it."""
        self._base_dir = base_dir
        self._source = source
        return self

    @property
    def source(self) -> str:
        """The suite file as the user named it (for error messages)."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the suite are resolved against."""
        return self._base_dir

    def resolve(self, path: str) -> Path:
        """An absolute path for a path written in the suite."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self._base_dir / p).resolve()

    @property
    def candidates(self) -> list[ModelSpec]:
        """Models with role candidate."""
        return [m for m in self.models if m.role == "candidate"]

    @property
    def baseline(self) -> ModelSpec | None:
        """The first model with role baseline, if any."""
        return next((m for m in self.models if m.role == "baseline"), None)

    @property
    def evaluation_datasets(self) -> list[DatasetSpec]:
        """Datasets evaluated (as opposed to drift references)."""
        return [d for d in self.datasets if d.use == "evaluation"]

    def metric_names(self) -> list[str]:
        """Metrics to compute: as given, or the task's defaults."""
        if self.metrics:
            return list(self.metrics)
        if self.task == "classification":
            return ["accuracy", "macro_f1", "log_loss", "roc_auc", "ece"]
        return ["mae", "rmse", "r2"]

    def primary(self) -> str:
        """The metric a verdict and robustness curves lead with."""
        return self.primary_metric or self.metric_names()[0]

    def fingerprint(self) -> str:
        """sha256 of the normalised suite content: names its results across machines."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
