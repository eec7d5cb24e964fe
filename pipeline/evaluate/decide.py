"""Stage 4: apply the suite's gates to the scored results and reach a verdict.

Comparative gates test the candidate against the baseline on the same
examples: the predictions of both stream back from the cache a chunk at a time,
paired by sample id, every slice of a comparison in one pass.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from evaluators.gates import GateInputs, GateOutcome, MetricLookup, evaluate_gates, verdict
from evaluators.gates.inputs import PairedQuery, PairedTestSource
from evaluators.metrics import METRICS
from evaluators.paired_chunked import ChunkedPairedScorer, PairedTest
from evaluators.slices import PackedMasks, slice_masks
from evaluators.statistics import MetricFn
from pipeline.evaluate.drift import drift_table
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import staged_results_path, stream_pair, suite_metrics
from storage.cache import PredictionCache
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


def paired_tests(plan: RunPlan, suite: SuiteSpec, settings: Settings, gated: dict[str, list[str]] | None = None) -> PairedTestSource:
    """Each comparison's paired tests, every slice in one pass over both models' cached predictions, a chunk at a time.

    Both prediction files are in the dataset's row order, so a chunk of one pairs with the same
    rows of the other (checked by sample id) and takes the slices' masks by position; the driver
    holds two chunks, the masks and per-slice summaries, never either model's predictions whole.
    ``gated``: per variant, the metrics the suite gates against the baseline; the first comparison
    asked of a pair of files tests all of them in that one pass. McNemar's counts come with every
    classification test (the gate reads them for its McNemar metrics). ROC AUC on a large slice
    reads each model's class columns from the files when its test runs, one at a time.
    """
    cache = PredictionCache(settings.cache_dir)
    lookup = metric_lookup(suite, plan.classes)
    masks: dict[str, PackedMasks] = {}
    done: dict[tuple[object, ...], dict[str, dict[str, PairedTest]]] = {}

    def tests(query: PairedQuery) -> dict[str, PairedTest]:
        pair = (query.candidate, query.baseline, query.dataset, query.variant, query.resamples, query.confidence, query.seed)
        if query.metric not in done.get(pair, {}):
            metrics = list(dict.fromkeys([query.metric, *(gated or {}).get(query.variant, [])]))
            done.setdefault(pair, {}).update(_one_pass(query, metrics))
        return done[pair][query.metric]

    def _one_pass(query: PairedQuery, metrics: list[str]) -> dict[str, dict[str, PairedTest]]:
        data = plan.data(query.dataset)
        if query.dataset not in masks:
            masks[query.dataset] = PackedMasks(slice_masks(data.meta, suite.slices))
        where = f"run {plan.run_id}: predictions of {query.candidate} and {query.baseline} on {query.dataset}/{query.variant}"
        keys = (plan.cache_key(query.candidate, query.dataset, query.variant), plan.cache_key(query.baseline, query.dataset, query.variant))
        scorers = [ChunkedPairedScorer(lookup(name)[0], task=suite.task, resamples=query.resamples, confidence=query.confidence,
                                       seed=query.seed, mcnemar=suite.task == "classification",
                                       columns=lambda model, c: cache.column(keys[model], f"score_{c}"))  # noqa: B023 (keys of this pass)
                   for name in metrics]
        return dict(zip(metrics, stream_pair(cache, keys, data, suite.task, scorers, masks[query.dataset], where)))

    return tests


def metric_lookup(suite: SuiteSpec, classes: list[int | str] | None) -> MetricLookup:
    """Registered metrics by name, plus the suite's own (a cost matrix)."""
    own = {m.name: m for m in suite_metrics(suite, classes)}

    def lookup(name: str) -> tuple[MetricFn, bool]:
        metric = own.get(name) or METRICS.get(name)
        return metric, metric.higher_is_better

    return lookup


def _gated_vs_baseline(gates: list) -> dict[str, list[str]]:
    """Per variant, the metrics of the gates that compare with the baseline."""
    gated: dict[str, list[str]] = {}
    for gate in gates:
        if getattr(gate, "max_drop_vs", None) == "baseline":
            gated.setdefault(gate.variant, []).append(gate.metric)
    return gated


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
        results=results, paired=None, paired_tests=paired_tests(plan, suite, settings, _gated_vs_baseline(gates)), metric=metric_lookup(suite, plan.classes),
        last_pass=last_pass, drift=drift,
        resamples=suite.bootstrap.resamples, confidence=suite.bootstrap.confidence, seed=suite.seed,
        bound_policy=suite.gate_bound_policy,
    )
    outcomes = evaluate_gates(gates, inputs)
    return Decision(verdict=verdict(outcomes, inconclusive_as=suite.inconclusive_as), outcomes=outcomes)
