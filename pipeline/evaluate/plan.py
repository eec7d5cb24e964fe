"""A run's plan: the resolved, verified inputs every later stage works from.

The plan is built once per run (:func:`pipeline.evaluate.prepare.prepare_run`) and
carries two things:

- public fields, small and JSON-serialisable: ids, checksums, fingerprints,
  provenance. They are what Prefect sees: a flow parameter is stored as this
  JSON, a task's input hash is taken over it (Prefect hashes a pydantic model by
  ``model_dump(mode="json")``, which leaves private attributes out);
- private attributes, never serialised: the parsed suite (a frozen
  :class:`~suite.spec.SuiteSpec`) and the datasets as loaded and checksummed at
  plan time. Every stage takes them from here instead of re-reading a path, so a
  run reads its YAML once and each dataset once.

Pickling a plan (a persisted task result, a fallback hash) drops the private
attributes: data never travels with it, and a plan that lost them says so when a
stage asks (:class:`~suite.errors.VigilError`), rather than re-reading files.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Self

from pydantic import BaseModel, PrivateAttr

from storage.cache import prediction_key
from storage.datasets import LoadedDataset
from suite.errors import VigilError
from suite.spec import SuiteSpec


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


class CarriesSuite(BaseModel):
    """A plan that holds its parsed suite (and loaded data) beside its public, JSON-serialisable fields.

    The suite and data are private attributes: out of ``model_dump``/JSON, dropped on pickling.
    """

    _suite: SuiteSpec | None = PrivateAttr(default=None)
    _data: Mapping[str, LoadedDataset] = PrivateAttr(default_factory=lambda: MappingProxyType({}))
    _suite_text: str | None = PrivateAttr(default=None)

    def attach(self, suite: SuiteSpec, data: Mapping[str, LoadedDataset] | None = None, text: str | None = None) -> Self:
        """Hold ``suite``, ``data`` (by dataset name, read-only) and the suite's exact ``text``; returns the plan itself."""
        self._suite = suite
        self._data = MappingProxyType(dict(data or {}))
        self._suite_text = text
        return self

    @property
    def suite_text(self) -> str | None:
        """The suite file's text exactly as read at plan time (stored with the run as ``suite.yaml``); None if not kept."""
        return self._suite_text

    @property
    def suite(self) -> SuiteSpec:
        """The suite as parsed at plan time (frozen)."""
        if self._suite is None:
            raise VigilError(f"plan of run {getattr(self, 'run_id', '?')}: expected the parsed suite with the plan, got none "
                             "(a plan read back from JSON or a pickle carries only its summary; build it with its prepare stage)")
        return self._suite

    def data(self, name: str) -> LoadedDataset:
        """Dataset ``name`` as loaded (and its checksum verified) at plan time."""
        if name not in self._data:
            raise VigilError(f"plan of run {getattr(self, 'run_id', '?')}: dataset {name!r}: expected it loaded with the plan, "
                             f"got only {sorted(self._data)}")
        return self._data[name]

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        return {**state, "__pydantic_private__": None}  # never pickle the data: see the module docstring

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._suite, self._data, self._suite_text = None, MappingProxyType({}), None


class RunPlan(CarriesSuite):
    """Everything a run needs to know: small public fields to pass between Prefect tasks, and the suite and data it was planned from.

    ``suite`` is the parsed suite; ``data(name)`` every dataset the run reads, loaded and
    checksummed once at plan time: the evaluation datasets (``datasets`` records their
    sha256) and the drift reference when the suite has a ``drift:`` section.
    """

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
        found = next((m for m in self.models if m.name == name), None)
        if found is None:
            raise VigilError(f"run {self.run_id}: model {name!r}: expected one of {[m.name for m in self.models]}")
        return found

    def dataset(self, name: str) -> DatasetEntry:
        """The entry for dataset ``name``."""
        found = next((d for d in self.datasets if d.name == name), None)
        if found is None:
            raise VigilError(f"run {self.run_id}: dataset {name!r}: expected one of {[d.name for d in self.datasets]}")
        return found
