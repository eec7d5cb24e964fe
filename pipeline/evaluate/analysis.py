"""Stage 4b: what the numbers mean — robustness per perturbation, and where the candidate got worse.

Writes beside the staged results (and so into the run's folder on commit):

- ``robustness.parquet``: per model × dataset × perturbation, the primary
  metric's clean value, breaking severity (first severity whose drop exceeds the
  suite's tolerance with its CI excluding no drop) and relative robustness
  (area under value/clean over the severities);
- ``worst_regions.parquet`` and ``newly_wrong.parquet``: per candidate, the
  slices and feature ranges where it is worst relative to the baseline (ranked
  by a significance-aware score) and the examples it newly gets wrong. Both
  models' predictions stream side by side into per-row errors (a byte per row
  each for classification) and the 200 most confident newly wrong rows; the
  feature ranges are formed one column at a time, so a 10M-row dataset never has
  its features or either model's scores whole in the driver;
- ``upstream.parquet``: the change attributed to each upstream module
  (:mod:`pipeline.evaluate.attribution`), when the suite rolls one back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluators.error_analysis import NewlyWrongTop, regions_by_column, row_errors
from evaluators.metrics import METRICS
from evaluators.robustness import breaking_severity, relative_robustness, severity_points
from pipeline.evaluate.attribution import UPSTREAM_FILE, attribution
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import DatasetRows, aligned_chunks, prediction_chunks, staged_results_path
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID
from storage.frames import read_frame, write_frame
from storage.store import ResultStore
from suite.errors import DataError
from suite.settings import Settings
from suite.spec import SuiteSpec

ROBUSTNESS_FILE, REGIONS_FILE, NEWLY_WRONG_FILE = "robustness.parquet", "worst_regions.parquet", "newly_wrong.parquet"


def robustness_summary(results: pd.DataFrame, suite: SuiteSpec) -> pd.DataFrame:
    """One row per model × dataset × perturbation for the suite's primary metric."""
    metric = suite.primary()
    higher = METRICS.get(metric).higher_is_better if metric in METRICS else False  # the suite's cost metric
    rows = results[(results["slice"] == "all") & (results["metric"] == metric)]
    out = []
    for (dataset, model), group in rows.groupby(["dataset", "model"], sort=True):
        for spec in suite.perturbations:
            points = severity_points(group, spec.kind)
            if len(points) < 2:
                continue
            broken = breaking_severity(points, tolerance=suite.robustness.tolerance, higher_is_better=higher)
            out.append({
                "model": model, "dataset": dataset, "perturbation": spec.kind, "metric": metric,
                "clean": points[0].value, "worst": min(p.value for p in points) if higher else max(p.value for p in points),
                "breaking_severity": float("nan") if broken is None else float(broken),
                "relative_robustness": relative_robustness(points, higher_is_better=higher),
                "tolerance": suite.robustness.tolerance,
            })
    return pd.DataFrame(out, columns=["model", "dataset", "perturbation", "metric", "clean", "worst", "breaking_severity", "relative_robustness", "tolerance"])


def _error_analysis(plan: RunPlan, suite: SuiteSpec, settings: Settings) -> tuple[pd.DataFrame, pd.DataFrame]:
    regions, wrong = [], []
    baseline = suite.baseline
    if baseline is None:
        return pd.DataFrame(), pd.DataFrame()
    for spec in suite.evaluation_datasets:
        data = plan.data(spec.name)
        present = set(data.select([SAMPLE_ID, *(s.column for s in suite.slices)], present_only=True).columns) | set(data.features)
        columns = [c for c in dict.fromkeys([*(s.column for s in suite.slices), *data.features[:20]]) if c in present]
        for model in suite.candidates:
            err_c, err_b, lost = _streamed_errors(plan, suite, settings, model.name, baseline.name, spec.name)
            found = regions_by_column(lambda name: data.select([name])[name], columns, err_c, err_b)  # noqa: B023 (used at once)
            regions.append(found.head(25).assign(model=model.name, baseline=baseline.name, dataset=spec.name))
            if lost is not None:
                wrong.append(lost.assign(model=model.name, baseline=baseline.name, dataset=spec.name))
    return (pd.concat(regions, ignore_index=True) if regions else pd.DataFrame(),
            pd.concat(wrong, ignore_index=True) if wrong else pd.DataFrame())


def _streamed_errors(plan: RunPlan, suite: SuiteSpec, settings: Settings, candidate: str, baseline: str,
                     dataset: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame | None]:
    """Both models' per-row errors in the dataset's row order and the candidate's first newly wrong rows, from
    their predictions streamed side by side (a byte per row and model for classification: never a model's scores whole).

    Regression has no "wrong" without a tolerance the suite does not give: no newly wrong rows (None).
    """
    cache, data = PredictionCache(settings.cache_dir), plan.data(dataset)
    where = f"run {plan.run_id}: predictions of {candidate} and {baseline} on {dataset}"
    classification = suite.task == "classification"
    err_c = np.zeros(data.rows, dtype=bool if classification else np.float64)
    err_b = np.zeros_like(err_c)
    top = NewlyWrongTop(_NEWLY_WRONG_KEPT) if classification else None
    streams = [prediction_chunks(cache, plan.cache_key(model, dataset, "clean"), suite.task) for model in (candidate, baseline)]
    at, dataset_rows = 0, DatasetRows(data.sample_ids, where)
    for (ids, y, cand), (_, _, base) in aligned_chunks(*streams, where=where):
        rows = dataset_rows.of(ids, at)
        err_c[rows], err_b[rows] = row_errors(y.astype(np.int64) if classification else y, cand, base)
        if top is not None:
            top.add(ids, y.astype(np.int64), cand.astype(np.float64), base.astype(np.float64))
        at += len(ids)
    if at != data.rows:
        raise DataError(f"{where}: expected {data.rows} rows (the dataset's), got {at}")
    return err_c, err_b, top.frame() if top is not None else None


_NEWLY_WRONG_KEPT = 200
"""Newly wrong rows kept per candidate and dataset (the most confident first)."""


def analyse_run(plan: RunPlan, settings: Settings) -> list[str]:
    """Write the robustness summary and error analysis into the run's staging folder."""
    suite = plan.suite
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    results = read_frame(staged_results_path(store, plan.run_id))
    written = []
    summary = robustness_summary(results, suite)
    if not summary.empty:
        write_frame(staging / ROBUSTNESS_FILE, summary)
        written.append(ROBUSTNESS_FILE)
    regions, wrong = _error_analysis(plan, suite, settings)
    if not regions.empty:
        write_frame(staging / REGIONS_FILE, regions)
        written.append(REGIONS_FILE)
    if not wrong.empty:
        write_frame(staging / NEWLY_WRONG_FILE, wrong)
        written.append(NEWLY_WRONG_FILE)
    if any(m.previous is not None for m in suite.upstream):
        write_frame(staging / UPSTREAM_FILE, attribution(plan, suite, settings))
        written.append(UPSTREAM_FILE)
    return written
