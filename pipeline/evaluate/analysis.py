"""Stage 4b: what the numbers mean — robustness per perturbation, and where the candidate got worse.

Writes beside the staged results (and so into the run's folder on commit):

- ``robustness.parquet``: per model × dataset × perturbation, the primary
  metric's clean value, breaking severity (first severity whose drop exceeds the
  suite's tolerance with its CI excluding no drop) and relative robustness
  (area under value/clean over the severities);
- ``worst_regions.parquet`` and ``newly_wrong.parquet``: per candidate, the
  slices and feature ranges where it is worst relative to the baseline (ranked
  by a significance-aware score) and the examples it newly gets wrong;
- ``upstream.parquet``: the change attributed to each upstream module
  (:mod:`pipeline.evaluate.attribution`), when the suite rolls one back.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluators.error_analysis import newly_wrong, worst_regions
from evaluators.metrics import METRICS
from evaluators.robustness import breaking_severity, relative_robustness, severity_points
from pipeline.evaluate.attribution import UPSTREAM_FILE, attribution
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import prediction_arrays, staged_results_path
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID
from storage.frames import read_frame, write_frame
from storage.store import ResultStore
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
    cache, regions, wrong = PredictionCache(settings.cache_dir), [], []
    baseline = suite.baseline
    if baseline is None:
        return pd.DataFrame(), pd.DataFrame()
    for spec in suite.evaluation_datasets:
        data = plan.data(spec.name)
        frame = data.select([SAMPLE_ID, *(s.column for s in suite.slices), *data.features[:20]], present_only=True).sort_values(SAMPLE_ID).reset_index(drop=True)
        base = cache.get(plan.cache_key(baseline.name, spec.name, "clean")).sort_values(SAMPLE_ID)
        y, s_base = prediction_arrays(base, suite.task)
        for model in suite.candidates:
            cand = cache.get(plan.cache_key(model.name, spec.name, "clean")).sort_values(SAMPLE_ID)
            _, s_cand = prediction_arrays(cand, suite.task)
            columns = [s.column for s in suite.slices] + list(data.features[:20])
            found = worst_regions(frame[list(dict.fromkeys(columns))], y, s_cand, s_base, columns=list(dict.fromkeys(columns)))
            regions.append(found.head(25).assign(model=model.name, baseline=baseline.name, dataset=spec.name))
            lost = newly_wrong(frame[SAMPLE_ID].to_numpy(np.int64), y, s_cand, s_base)
            wrong.append(lost.head(200).assign(model=model.name, baseline=baseline.name, dataset=spec.name))
    return (pd.concat(regions, ignore_index=True) if regions else pd.DataFrame(),
            pd.concat(wrong, ignore_index=True) if wrong else pd.DataFrame())


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
