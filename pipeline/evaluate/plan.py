"""A run's plan: the resolved, verified inputs every later stage works from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from storage.cache import prediction_key


class ModelEntry(BaseModel):
    """A model as verified for this run.

    ``sha256`` is the checkpoint's (or the code's) sha256, for provenance;
    ``fingerprint`` (:func:`pipeline.evaluate.fingerprint.model_fingerprint`) covers all
    that changes its predictions and keys the prediction cache.
    """

    name: str
    sha256: str
    fingerprint: str = ""
    format: str
    role: str
    path: str
    version: str | None = None


class DatasetEntry(BaseModel):
    """A dataset version as loaded for this run."""

    name: str
    sha256: str
    rows: int
    source: str
    fingerprint: str = ""


class WorkItem(BaseModel):
    """One coarse unit of inference: a model on a dataset under a variant."""

    model: str
    dataset: str
    variant: str


class RunPlan(BaseModel):
    """Everything a run needs to know, small enough to pass between Prefect tasks."""

    run_id: str
    suite_path: str
    suite_name: str
    suite_hash: str
    seed: int
    trigger: str
    started_at: datetime
    models: list[ModelEntry]
    datasets: list[DatasetEntry]
    variants: list[str]
    classes: list[int | str] | None = None
    perturbation_versions: dict[str, str] = {}
    perturbation_params: dict[str, str] = {}
    provenance: dict[str, Any] = {}

    def cache_key(self, model: str, dataset: str, variant: str) -> str:
        """The prediction-cache key of one model × dataset × variant.

        It covers the model's prediction fingerprint, the data's fingerprint, the
        variant with its perturbation's version and parameters, and (for a
        perturbed variant) the seed; docs/reliability.md lists what each covers.
        """
        kind = variant.split(":", 1)[0]
        params = self.perturbation_params.get(kind)
        tag = variant if variant == "clean" else f"{variant}@v{self.perturbation_versions.get(kind, '0')}" + (f"-p{params}" if params else "")
        entry, data = self.model(model), self.dataset(dataset)
        return prediction_key(entry.fingerprint or entry.sha256, data.fingerprint or data.sha256, tag, self.seed)

    def work_items(self) -> list[WorkItem]:
        """Model-major order, so one model's warm actors serve all its variants in a row."""
        return [
            WorkItem(model=m.name, dataset=d.name, variant=v)
            for m in self.models
            for d in self.datasets
            for v in self.variants
        ]

    def model(self, name: str) -> ModelEntry:
        """The entry for model ``name``."""
        return next(m for m in self.models if m.name == name)

    def dataset(self, name: str) -> DatasetEntry:
        """The entry for dataset ``name``."""
        return next(d for d in self.datasets if d.name == name)
