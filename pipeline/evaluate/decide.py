"""Stage 4: apply the suite's gates to the scored results and reach a verdict.

Comparative gates test the candidate against the baseline on the same
examples: the predictions of both are read back from the cache and paired by
sample id, per slice.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from evaluators.gates import GateInputs, GateOutcome, MetricLookup, PairedSource, evaluate_gates, verdict
from evaluators.metrics import METRICS
from evaluators.slices import slice_masks
from evaluators.statistics import MetricFn
from pipeline.evaluate.drift import drift_table
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import prediction_arrays, staged_results_path, suite_metrics
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID
from storage.frames import read_frame
from storage.store import ResultStore
from suite.settings import Settings
from suite.spec import SuiteSpec


class Decision(BaseModel):
    """A run's verdict and the gate outcomes it rests on."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    verdict: str
    outcomes: list[GateOutcome] = []

    def failed_gates(self) -> list[str]:
        """Short names of the failed gates."""
        return [f"{o.gate} ({o.model}{'' if o.slice == 'all' else ', ' + o.slice})" for o in self.outcomes if o.status == "fail"]


def paired_source(plan: RunPlan, suite: SuiteSpec, settings: Settings) -> PairedSource:
    """Reads (y_true, candidate scores, baseline scores) for a slice from the prediction cache."""
    cache = PredictionCache(settings.cache_dir)

    @lru_cache(maxsize=64)
    def predictions(model: str, dataset: str, variant: str) -> pd.DataFrame:
        return cache.get(plan.cache_key(model, dataset, variant)).sort_values(SAMPLE_ID).reset_index(drop=True)

    @lru_cache(maxsize=8)
    def masks(dataset: str) -> dict[str, np.ndarray]:
        frame = plan.data(dataset).meta.sort_values(SAMPLE_ID).reset_index(drop=True)
        return slice_masks(frame, suite.slices)

    def paired(candidate: str, baseline: str, dataset: str, variant: str, slice_: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cand, base = predictions(candidate, dataset, variant), predictions(baseline, dataset, variant)
        mask = masks(dataset)[slice_]
        y, s_cand = prediction_arrays(cand[mask], suite.task)
        _, s_base = prediction_arrays(base[mask], suite.task)
        return y, s_cand, s_base

    return paired


def metric_lookup(suite: SuiteSpec, classes: list[int | str] | None) -> MetricLookup:
    """Registered metrics by name, plus the suite's own (a cost matrix)."""
    own = {m.name: m for m in suite_metrics(suite, classes)}

    def lookup(name: str) -> tuple[MetricFn, bool]:
        metric = own.get(name) or METRICS.get(name)
        return metric, metric.higher_is_better

    return lookup


def decide_run(plan: RunPlan, settings: Settings) -> Decision:
    """Evaluate the suite's gates on the staged results."""
    suite = plan.suite
    gates = [*suite.gates, *suite.robustness_gates, *([suite.drift_gate] if suite.drift_gate else [])]
    if not gates:
        return Decision(verdict="none")
    store = ResultStore(settings)
    results = read_frame(staged_results_path(store, plan.run_id))
    last_pass = None
    if any(getattr(g, "max_drop_vs", None) == "last_pass" for g in gates):
        previous = store.last_run(plan.suite_name, verdict="pass", before=plan.started_at)
        last_pass = store.run_results(previous.run_id) if previous else None
    drift = drift_table(plan.run_id, settings)
    drift = drift[drift["kind"] == "data"] if not drift.empty else None
    inputs = GateInputs(
        results=results, paired=paired_source(plan, suite, settings), metric=metric_lookup(suite, plan.classes), last_pass=last_pass, drift=drift,
        resamples=suite.bootstrap.resamples, confidence=suite.bootstrap.confidence, seed=suite.seed,
        bound_policy=suite.gate_bound_policy,
    )
    outcomes = evaluate_gates(gates, inputs)
    return Decision(verdict=verdict(outcomes, inconclusive_as=suite.inconclusive_as), outcomes=outcomes)
