"""Stage: data, prediction and target drift of each evaluation dataset against the suite's reference.

For every evaluation dataset the stage builds one *drift frame* per side —
the features, each model's clean outputs (``y_pred``, ``score_<k>``) and the
labels when both sides have them — and compares the two with one engine:

* ``evidently``: Evidently's data-drift preset on the whole frames, for its HTML
  report and for the columns whose suite-named method Evidently has; chosen when
  ``drift.mode`` is ``evidently``, or ``auto`` and neither side has more than
  ``drift.evidently_max_rows`` rows. Every other column gets Vigil's default policy
  (:mod:`drift.policy`) computed by Vigil's checks on the same frames;
* ``summaries``: mergeable per-shard summaries computed on Ray tasks
  (:func:`workers.summaries.summarise_shards`) and merged (:mod:`drift.scale`);
  deterministic, no sampling, no HTML; the same default policy, from the summaries.

Both engines give the default verdict the same way: one test per column, p-values
corrected within each (kind, model) group, an effect floor. With ``drift.multivariate``
the numeric data columns are also tested jointly (``mmd`` on a seeded subsample),
stored as one row of kind ``multivariate``, column ``<joint>``.

The result is ``drift.parquet`` in the run's staging folder — one row per
dataset × (kind, model) × column, columns :data:`DRIFT_COLUMNS` — plus
``drift.html`` (``drift-<dataset>.html`` when there are several datasets). Both
move into ``runs/<run_id>/`` when the run commits. Each (kind, model) group gets
its own share of drifted columns, so drifting model outputs never count toward
the data's share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from drift.checks import DRIFT_CHECKS, check_column, column_kind, evidently_method
from drift.checks.mmd import JOINT, MMD
from drift.policy import DriftPolicy, apply_policy, default_check_name
from drift.results import DatasetDrift, DriftResult
from drift.scale import drift_from_summaries, make_bins_spec
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.fingerprint import canonical_sha256, model_fingerprint
from storage.cache import PredictionCache, prediction_key
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels
from storage.frames import read_frame, write_frame
from storage.store import ResultStore
from suite.errors import VigilError
from suite.sections import DriftSpec
from suite.settings import Settings
from suite.spec import SuiteSpec
from workers.predictor import Predictor

DRIFT_COLUMNS = [
    "run_id", "suite", "dataset", "window_start", "window_end", "kind", "model", "column",
    "score", "score_kind", "threshold", "drifted", "method", "method_version", "n_reference", "n_current",
    "engine", "sampled", "sample_size", "p_value", "p_adjusted", "effect", "effect_name", "effect_floor",
    "alpha", "correction", "share_drifted", "dataset_drifted",
]
"""Columns of ``drift.parquet``: one row per dataset × (kind, model) × column (× window for drift-watch runs)."""

DRIFT_TABLE = "drift.parquet"
_PREDICTION, _TARGET, _MULTIVARIATE = "prediction", "target", "multivariate"
_SEP = ":"


@dataclass(frozen=True)
class DriftSide:
    """What one side of a comparison holds: features, model outputs by model name, and labels."""

    features: pd.DataFrame
    predictions: Mapping[str, pd.DataFrame]
    labels: pd.Series | None

    def frame(self) -> pd.DataFrame:
        """One wide frame: features, ``prediction:<model>:<column>`` and ``target:<label>`` columns."""
        parts = [self.features.reset_index(drop=True)]
        for model, preds in self.predictions.items():
            cols = [c for c in preds.columns if c == "y_pred" or c.startswith("score_")]
            parts.append(preds[cols].reset_index(drop=True).add_prefix(f"{_PREDICTION}{_SEP}{model}{_SEP}"))
        if self.labels is not None:
            parts.append(pd.DataFrame({f"{_TARGET}{_SEP}{self.labels.name}": self.labels.to_numpy()}))
        return pd.concat(parts, axis=1)


@dataclass(frozen=True)
class Comparison:
    """Column results of one comparison, and Evidently's snapshot when Evidently computed them."""

    results: list[DriftResult]
    snapshot: Any | None


def split_column(name: str) -> tuple[str, str, str]:
    """``(kind, model, column)`` of a drift-frame column: ``data``/``prediction``/``target``/``multivariate``."""
    if name == JOINT:
        return _MULTIVARIATE, "", JOINT
    parts = name.split(_SEP, 2)
    if parts[0] == _PREDICTION and len(parts) == 3:
        return _PREDICTION, parts[1], parts[2]
    if parts[0] == _TARGET and len(parts) == 2:
        return _TARGET, "", parts[1]
    return "data", "", name


def compare(reference: pd.DataFrame, current: pd.DataFrame, spec: DriftSpec, task: str, ray_address: str | None) -> Comparison:
    """Compare two drift frames column by column with the engine ``spec`` selects.

    Columns the suite named a method for keep that method and threshold; every other column gets
    the default policy, corrected within its (kind, model) group (see :mod:`drift.policy`).
    """
    cols = [c for c in reference.columns if c in current.columns]
    categorical = list(spec.categorical)
    for c in cols:
        kind, _, base = split_column(c)
        if task == "classification" and (kind == _TARGET or (kind == _PREDICTION and base == "y_pred")):
            categorical.append(c)
    base = {c: split_column(c)[2] for c in cols}
    methods = {c: spec.methods[b] for c, b in base.items() if b in spec.methods}
    thresholds = {c: spec.thresholds[b] for c, b in base.items() if b in spec.thresholds}
    policy = DriftPolicy(alpha=spec.alpha, correction=spec.correction,
                         effect_floors={c: spec.effect_floors[b] for c, b in base.items() if b in spec.effect_floors})
    largest = max(len(reference), len(current))
    snapshot = None
    if spec.mode == "evidently" or (spec.mode == "auto" and largest <= spec.evidently_max_rows):
        from drift.evidently_adapter import run_data_drift  # here, not at the top: importing Evidently takes seconds, and most runs never drift

        kinds = {c: "categorical" if c in categorical else column_kind(reference[c]) for c in cols}
        named = {c: m for c, m in methods.items() if _in_evidently(m)}
        named.update({c: _evidentlys_choice(reference[c], current[c], kinds[c]) for c in thresholds if c not in methods})
        shown = {c: named.get(c) or _evidently_stand_in(reference[c], current[c], kinds[c]) for c in cols}
        dataset, snapshot = run_data_drift(
            reference, current, cols, categorical=categorical, per_column_method=shown,
            per_column_threshold=thresholds, share_threshold=spec.share_threshold,
        )
        evidently = dataset.by_column()
        results = [evidently[c] if c in named else
                   check_column(reference[c], current[c], methods.get(c), thresholds.get(c), kinds[c], policy=policy)
                   for c in cols]
    else:
        from workers.summaries import summarise_shards  # imports Ray: only the summaries engine needs it here

        bins = make_bins_spec(reference, cols, categorical, spec.bins)
        ref_summary = summarise_shards(reference, cols, bins, address=ray_address)
        cur_summary = summarise_shards(current, cols, bins, address=ray_address)
        results = drift_from_summaries(ref_summary, cur_summary, cols, per_column_method=methods,
                                       per_column_threshold=thresholds, share_threshold=spec.share_threshold,
                                       policy=policy).columns
    results = judge_groups(results)
    joint = [c for c in cols if split_column(c)[0] == "data" and c not in categorical and column_kind(reference[c]) == "numerical"]
    if spec.multivariate and len(joint) >= 2:
        results.append(policy.mark(MMD(reference[joint], current[joint]), 0.0))
    return Comparison(results, snapshot)


def judge_groups(results: list[DriftResult]) -> list[DriftResult]:
    """Apply the default policy's correction within each (kind, model) group, keeping the order."""
    out = list(results)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(results):
        groups.setdefault(split_column(r.column)[:2], []).append(i)
    for members in groups.values():
        for i, judged in zip(members, apply_policy([results[i] for i in members])):
            out[i] = judged
    return out


def _in_evidently(method: str) -> bool:
    return bool(getattr(DRIFT_CHECKS.get(method), "evidently_name", None))


def _evidentlys_choice(reference: pd.Series, current: pd.Series, kind: str) -> str:
    """Evidently's own method for a column given a threshold but no method (as before the policy)."""
    return evidently_method(kind, int(reference.notna().sum()), pd.concat([reference.dropna(), current.dropna()]).nunique())  # type: ignore[arg-type]


def _evidently_stand_in(reference: pd.Series, current: pd.Series, kind: str) -> str:
    """The Evidently test closest to the default policy's, shown in the HTML report (uncorrected, no floor)."""
    n_unique = pd.concat([reference.dropna(), current.dropna()]).nunique()
    method = default_check_name(kind, n_unique)  # type: ignore[arg-type]
    return method if _in_evidently(method) else "chi_square"


def drift_rows(comparison: Comparison, share_threshold: float, **context: Any) -> pd.DataFrame:
    """The long table (:data:`DRIFT_COLUMNS`) of one comparison; ``context`` fills run, suite, dataset, window."""
    groups: dict[tuple[str, str], list[tuple[str, DriftResult]]] = {}
    for result in comparison.results:
        kind, model, column = split_column(result.column)
        groups.setdefault((kind, model), []).append((column, result))
    rows = []
    for (kind, model), members in groups.items():
        summary = DatasetDrift.of([r for _, r in members], share_threshold)
        for column, r in members:
            rows.append({
                **context, "kind": kind, "model": model, "column": column,
                **r.model_dump(exclude={"column"}),
                "share_drifted": summary.share_drifted, "dataset_drifted": summary.dataset_drifted,
            })
    frame = pd.DataFrame(rows)
    for name in DRIFT_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    return frame[DRIFT_COLUMNS]


def model_predictions(suite: SuiteSpec, data: LoadedDataset, settings: Settings, num_classes: int | None) -> dict[str, pd.DataFrame]:
    """Each model's clean outputs on ``data`` (``sample_id, y_pred, score_<k>``), cached by content.

    Runs in this process with a plain :class:`~workers.predictor.Predictor`: references and drift
    windows are read once per model and version, and the cache serves every later run.
    """
    cache, out = PredictionCache(settings.cache_dir), {}
    for spec in suite.models:
        # the Predictor below sees the raw features (no upstream stages), so upstream files are not in its key
        data_key = canonical_sha256({"sha256": data.sha256 or "nosha", "features": data.features, "classes": num_classes})
        key = prediction_key(model_fingerprint(spec, suite).sha256, data_key, "drift-outputs", suite.seed)
        if not cache.has(key):
            features = data.select(data.features)
            inputs = features.to_numpy(dtype=np.float32) if spec.input == "array" else features.reset_index(drop=True)
            outputs = Predictor(spec, suite.base_dir, task=suite.task, num_classes=num_classes)(inputs)
            frame = pd.DataFrame({SAMPLE_ID: data.sample_ids})
            if suite.task == "classification":
                frame["y_pred"] = outputs.argmax(axis=1).astype(np.int64)
                for k in range(outputs.shape[1]):
                    frame[f"score_{k}"] = outputs[:, k].astype(np.float64)
            else:
                frame["y_pred"] = outputs.astype(np.float64).reshape(-1)
            cache.put(key, frame)
        out[spec.name] = cache.get(key)
    return out


def labels_of(data: LoadedDataset, task: str, classes: list[int | str] | None) -> pd.Series | None:
    """The labels as class indices (or floats), or None when any is missing."""
    if data.label is None or data.meta[data.label].isna().any():
        return None
    values = data.meta[data.label]
    if task == "classification":
        values = pd.Series(encode_labels(values, classes, f"dataset {data.name}")[0], name=data.label)
    return values.rename(data.label).reset_index(drop=True)


def reference_side(suite: SuiteSpec, settings: Settings, classes: list[int | str] | None,
                   data: LoadedDataset | None = None) -> tuple[LoadedDataset, DriftSide]:
    """The suite's drift reference (its ``reference_rows``/``reference_range`` only) with its outputs and labels.

    ``data`` is the reference dataset when the caller holds it already (a run's plan does).
    """
    from pipeline.drift_watch.streams import window_reference  # it builds on this module

    _drift_spec(suite)
    reference = window_reference(suite, settings, classes, data)
    return reference.data, reference.side


def drift_stage(plan: RunPlan, settings: Settings) -> str | None:
    """Compare each evaluation dataset of the run with the suite's reference; None when the suite has no ``drift:``.

    Writes ``drift.parquet`` and Evidently's HTML into the run's staging folder and returns the table's path.
    """
    suite = plan.suite
    if suite.drift is None:
        return None
    spec = suite.drift
    store, cache = ResultStore(settings), PredictionCache(settings.cache_dir)
    ref_data, ref_side = reference_side(suite, settings, plan.classes, plan.data(spec.reference))
    staging = store.staging_dir(plan.run_id)
    tables = []
    evaluated = [d for d in suite.evaluation_datasets if d.name in {e.name for e in plan.datasets}]
    for dataset in evaluated:
        data = plan.data(dataset.name)
        preds = {}
        for name in ref_side.predictions:
            key = plan.cache_key(name, dataset.name, "clean")
            if cache.has(key):
                rows = data.meta[[SAMPLE_ID]].merge(cache.get(key), on=SAMPLE_ID, how="left")
                preds[name] = rows
        labels = labels_of(data, suite.task, plan.classes) if ref_side.labels is not None else None
        current = DriftSide(data.select(_columns(spec, ref_data)), preds, labels)
        comparison = compare(ref_side.frame(), current.frame(), spec, suite.task, settings.ray_address)
        tables.append(drift_rows(comparison, spec.share_threshold, run_id=plan.run_id, suite=plan.suite_name, dataset=dataset.name))
        if comparison.snapshot is not None and spec.html:
            from drift.evidently_adapter import save_html

            name = "drift.html" if len(evaluated) == 1 else f"drift-{_slug(dataset.name)}.html"
            save_html(comparison.snapshot, staging / name)
    path = staging / DRIFT_TABLE
    write_frame(path, pd.concat(tables, ignore_index=True))
    return str(path)


def drift_table(run_id: str, settings: Settings) -> pd.DataFrame:
    """A run's drift table, staged or committed; empty (with :data:`DRIFT_COLUMNS`) when it has none."""
    store = ResultStore(settings)
    for root in (store.staging_dir(run_id), settings.run_dir(run_id)):
        if (root / DRIFT_TABLE).is_file():
            return read_frame(root / DRIFT_TABLE)
    return pd.DataFrame(columns=DRIFT_COLUMNS)


def _drift_spec(suite: SuiteSpec) -> DriftSpec:
    if suite.drift is None:
        raise VigilError(f"suite {suite.source}: drift: expected a drift section with a reference dataset, got none")
    return suite.drift


def _columns(spec: DriftSpec, reference: LoadedDataset) -> list[str]:
    return list(spec.columns) if spec.columns is not None else list(reference.features)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name)


__all__ = ["DRIFT_COLUMNS", "DriftSide", "compare", "drift_rows", "drift_stage", "drift_table", "model_predictions"]
