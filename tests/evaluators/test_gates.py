"""Gates on constructed predictions whose right answers are known by hand or from scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from scipy import stats

from evaluators.gates import (
    CostSpec,
    DriftGate,
    GateInputs,
    GateOutcome,
    RobustnessGate,
    evaluate_gates,
    outcomes_frame,
    verdict,
)
from evaluators.metrics.expected_cost import cost_metric
from evaluators.statistics import MetricFn
from suite.errors import VigilError
from suite.spec import GateSpec

K = 3


def accuracy(y: np.ndarray, scores: np.ndarray) -> float:
    return float(np.mean(np.argmax(scores, axis=1) == y))


def log_loss(y: np.ndarray, scores: np.ndarray) -> float:
    return float(-np.mean(np.log(scores[np.arange(len(y)), y])))


METRICS: dict[str, tuple[MetricFn, bool]] = {"accuracy": (accuracy, True), "log_loss": (log_loss, False)}


def scores_for(y: np.ndarray, right: np.ndarray, confidence: float = 0.8) -> np.ndarray:
    predicted = np.where(right, y, (y + 1) % K)
    out = np.full((len(y), K), (1 - confidence) / (K - 1))
    out[np.arange(len(y)), predicted] = confidence
    return out


def build_samples(regions: dict[str, tuple[int, int, int, int]]) -> pd.DataFrame:
    """Per region: (both right, only candidate right, only baseline right, both wrong)."""
    parts = []
    for region, (both, cand_only, base_only, neither) in regions.items():
        cand = [1] * both + [1] * cand_only + [0] * base_only + [0] * neither
        base = [1] * both + [0] * cand_only + [1] * base_only + [0] * neither
        parts.append(pd.DataFrame({"region": region, "cand_right": cand, "base_right": base}))
    frame = pd.concat(parts, ignore_index=True)
    frame["sample_id"] = np.arange(len(frame), dtype=np.int64)
    frame["y"] = frame["sample_id"] % K
    return frame


class Run:
    """A run's samples, both models' scores, and its long-format results."""

    def __init__(self, samples: pd.DataFrame, cand_confidence: float = 0.8) -> None:
        self.samples = samples
        y = samples["y"].to_numpy()
        self.scores = {
            "cand": scores_for(y, samples["cand_right"].to_numpy(bool), cand_confidence),
            "base": scores_for(y, samples["base_right"].to_numpy(bool)),
        }
        self.results = self._results()

    def mask(self, slice_: str) -> np.ndarray:
        if slice_ == "all":
            return np.ones(len(self.samples), bool)
        return (self.samples["region"] == slice_.split("=", 1)[1]).to_numpy()

    def paired(self, cand: str, base: str, dataset: str, variant: str, slice_: str):
        m = self.mask(slice_)
        return self.samples["y"].to_numpy()[m], self.scores[cand][m], self.scores[base][m]

    def _results(self) -> pd.DataFrame:
        rows = []
        slices = ["all"] + [f"region={r}" for r in self.samples["region"].unique()]
        rng = np.random.default_rng(0)
        for model, role in (("cand", "candidate"), ("base", "baseline")):
            for slice_ in slices:
                m = self.mask(slice_)
                y, s = self.samples["y"].to_numpy()[m], self.scores[model][m]
                for metric, (fn, _) in METRICS.items():
                    boot = [fn(y[i], s[i]) for i in rng.integers(0, len(y), (300, len(y)))]
                    low, high = np.quantile(boot, [0.025, 0.975])
                    rows.append(dict(run_id="r1", dataset="d", model=model, role=role, variant="clean",
                                     slice=slice_, metric=metric, metric_version="1", value=fn(y, s),
                                     ci_low=low, ci_high=high, n=int(m.sum())))
        return pd.DataFrame(rows)

    def inputs(self, **kwargs) -> GateInputs:
        return GateInputs(results=self.results, paired=self.paired, metric=METRICS.__getitem__,
                          resamples=400, seed=1, **kwargs)


def only(outcomes: list[GateOutcome], slice_: str = "all") -> GateOutcome:
    [outcome] = [o for o in outcomes if o.slice == slice_]
    return outcome


def test_significant_accuracy_drop_fails() -> None:
    run = Run(build_samples({"a": (300, 3, 25, 12)}))
    gate = GateSpec(metric="accuracy", max_drop=0.02, significance=0.05)
    outcome = only(evaluate_gates([gate], run.inputs()))
    assert outcome.status == "fail"
    assert outcome.value == pytest.approx(22 / 340)  # drop = (c - b)/n
    assert outcome.p_value == pytest.approx(stats.binomtest(25, 28, 0.5, alternative="greater").pvalue)
    assert outcome.ci_high < 0  # the paired CI of cand - base is reported
    assert verdict([outcome]) == "fail"


def test_insignificant_drop_passes_but_fails_without_significance() -> None:
    run = Run(build_samples({"a": (90, 1, 4, 5)}))
    with_test = only(evaluate_gates([GateSpec(metric="accuracy", max_drop=0.02, significance=0.05)], run.inputs()))
    # drop 0.03 > 0.02, but P[X ≥ 4 | Bin(5, ½)] = 6/32 is not significant.
    assert with_test.value == pytest.approx(0.03)
    assert with_test.p_value == pytest.approx(6 / 32)
    assert with_test.status == "pass" and "not significant" in with_test.reason
    point_only = only(evaluate_gates([GateSpec(metric="accuracy", max_drop=0.02)], run.inputs()))
    assert point_only.status == "fail"


def test_bootstrap_drop_of_a_lower_is_better_metric() -> None:
    samples = build_samples({"a": (400, 0, 0, 0)})
    underconfident = Run(samples, cand_confidence=0.5)  # same predictions, worse log loss everywhere
    gate = GateSpec(metric="log_loss", max_drop=0.05, significance=0.05)
    outcome = only(evaluate_gates([gate], underconfident.inputs()))
    expected = -math.log(0.5) + math.log(0.8)  # log loss rises from -ln 0.8 to -ln 0.5
    assert outcome.value == pytest.approx(expected)
    assert outcome.status == "fail" and outcome.p_value < 0.01
    lenient = GateSpec(metric="log_loss", max_drop=0.5, significance=0.05)
    assert only(evaluate_gates([lenient], underconfident.inputs())).status == "pass"


def test_small_slice_is_reported_not_gated() -> None:
    run = Run(build_samples({"big": (100, 2, 2, 6), "tiny": (2, 0, 8, 0)}))
    gate = GateSpec(metric="accuracy", max_drop=0.02, significance=0.05, per_slice=True, min_slice_n=30)
    outcomes = evaluate_gates([gate], run.inputs())
    assert {o.slice for o in outcomes} == {"region=big", "region=tiny"}
    tiny = only(outcomes, "region=tiny")
    assert tiny.status == "reported" and "min_slice_n" in tiny.reason and tiny.n == 10
    assert tiny.value == pytest.approx(0.8)  # shown for information: accuracy 0.2 vs 1.0
    assert only(outcomes, "region=big").status == "pass"
    assert verdict(outcomes) == "pass"
    strict = GateSpec(metric="accuracy", max_drop=0.02, significance=0.05, per_slice=True, min_slice_n=5)
    assert only(evaluate_gates([strict], run.inputs()), "region=tiny").status == "fail"


def test_holm_turns_a_borderline_slice_failure_into_a_pass() -> None:
    gate = GateSpec(metric="accuracy", max_drop=0.02, significance=0.05, per_slice=True, min_slice_n=30)
    # Slice A alone: 5 newly wrong, none newly right: one-sided p = 1/32 < 0.05.
    alone = Run(build_samples({"A": (35, 0, 5, 0)}))
    a_alone = only(evaluate_gates([gate], alone.inputs()), "region=A")
    assert a_alone.p_value == pytest.approx(1 / 32)
    assert a_alone.status == "fail"
    # Beside slice B (p = P[X ≥ 3 | Bin(6, ½)] = 42/64), Holm doubles A's p to 1/16 > 0.05.
    together = Run(build_samples({"A": (35, 0, 5, 0), "B": (50, 3, 3, 4)}))
    outcomes = evaluate_gates([gate], together.inputs())
    a, b = only(outcomes, "region=A"), only(outcomes, "region=B")
    assert b.p_value == pytest.approx(42 / 64)
    assert a.adjusted_p == pytest.approx(2 / 32) and b.adjusted_p == pytest.approx(42 / 64)
    assert a.status == "pass" and a.value > gate.max_drop
    assert verdict(outcomes) == "pass"


@pytest.mark.parametrize(
    ("bound", "policy", "expected"),
    [
        (dict(min=0.5), "ci", "pass"),  # CI wholly above
        (dict(min=0.99), "ci", "fail"),  # CI wholly below
        (dict(min=0.90), "ci", "inconclusive"),  # CI straddles
        (dict(min=0.90), "point", "pass"),  # point 0.9088 ≥ 0.90
        (dict(max=0.5), "ci", "fail"),
    ],
)
def test_absolute_bounds_follow_the_ci_policy(bound: dict, policy: str, expected: str) -> None:
    run = Run(build_samples({"a": (300, 9, 0, 31)}))  # candidate accuracy 309/340
    outcome = only(evaluate_gates([GateSpec(metric="accuracy", model="cand", **bound)], run.inputs(bound_policy=policy)))
    row = run.results.query("model == 'cand' and slice == 'all' and metric == 'accuracy'").iloc[0]
    assert outcome.value == pytest.approx(309 / 340) and outcome.ci_low == row.ci_low
    if expected == "inconclusive":
        assert row.ci_low < 0.90 < row.ci_high
    assert outcome.status == expected


def test_inconclusive_counts_as_configured() -> None:
    run = Run(build_samples({"a": (300, 9, 0, 31)}))
    outcomes = evaluate_gates([GateSpec(metric="accuracy", model="cand", min=0.90)], run.inputs())
    assert verdict(outcomes) == "fail"
    assert verdict(outcomes, inconclusive_as="pass") == "pass"
    assert verdict(outcomes, inconclusive_as="inconclusive") == "inconclusive"
    assert verdict([]) == "pass"


def test_per_slice_bounds_use_holm_on_ci_based_p_values() -> None:
    run = Run(build_samples({"good": (60, 0, 0, 0), "bad": (10, 0, 0, 50)}))
    outcomes = evaluate_gates([GateSpec(metric="accuracy", model="cand", min=0.8, per_slice=True)], run.inputs())
    assert only(outcomes, "region=good").status == "pass"
    bad = only(outcomes, "region=bad")
    assert bad.status == "fail" and bad.adjusted_p < 0.025


def test_same_inputs_and_seed_give_the_same_outcomes() -> None:
    run = Run(build_samples({"A": (35, 0, 5, 0), "B": (50, 3, 3, 4), "C": (5, 0, 3, 0)}))
    gates = [
        GateSpec(metric="log_loss", max_drop=0.01, significance=0.05, per_slice=True),
        GateSpec(metric="accuracy", min=0.8),
    ]
    first = outcomes_frame(evaluate_gates(gates, run.inputs()))
    second = outcomes_frame(evaluate_gates(gates, run.inputs()))
    pd.testing.assert_frame_equal(first, second)
    assert verdict(evaluate_gates(gates, run.inputs())) == verdict(evaluate_gates(gates, run.inputs()))


def test_drop_vs_last_pass_uses_stored_values_and_cis() -> None:
    run = Run(build_samples({"a": (250, 0, 0, 90)}))  # accuracy 250/340 = 0.735
    last = run.results.copy()
    last.loc[last["metric"] == "accuracy", ["value", "ci_low", "ci_high"]] = [0.90, 0.88, 0.92]
    gate = GateSpec(metric="accuracy", model="cand", max_drop_vs="last_pass", max_drop=0.05, significance=0.05)
    outcome = only(evaluate_gates([gate], run.inputs(last_pass=last)))
    assert outcome.status == "fail" and outcome.value == pytest.approx(0.90 - 250 / 340)
    assert only(evaluate_gates([gate], run.inputs())).status == "reported"


def test_missing_baseline_or_results_is_inconclusive() -> None:
    run = Run(build_samples({"a": (30, 0, 0, 0)}))
    no_base = run.results[run.results["role"] == "candidate"]
    inputs = GateInputs(results=no_base, paired=run.paired, metric=METRICS.__getitem__)
    assert only(evaluate_gates([GateSpec(metric="accuracy", max_drop=0.1)], inputs)).status == "inconclusive"
    assert only(evaluate_gates([GateSpec(metric="roc_auc", min=0.5)], run.inputs())).status == "inconclusive"


def robustness_results(values: list[float]) -> pd.DataFrame:
    variants = ["clean"] + [f"noise:{s}" for s in range(1, len(values))]
    v = np.asarray(values)
    return pd.DataFrame(dict(dataset="d", model="cand", role="candidate", variant=variants, slice="all",
                             metric="accuracy", value=v, ci_low=v - 0.005, ci_high=v + 0.005, n=100))


@pytest.mark.parametrize(("k", "expected"), [(3, "pass"), (4, "fail")])
def test_robustness_gate_finds_the_breaking_severity(k: int, expected: str) -> None:
    results = robustness_results([0.95, 0.94, 0.93, 0.91, 0.70, 0.50])  # drops 0.01, 0.02, 0.04, 0.25, 0.45
    inputs = GateInputs(results=results, paired=lambda *a: None, metric=METRICS.__getitem__)  # type: ignore[arg-type,return-value]
    gate = RobustnessGate(perturbation="noise", metric="accuracy", max_drop=0.03, min_breaking_severity=k)
    [outcome] = evaluate_gates([gate], inputs)
    assert outcome.value == 3 and outcome.status == expected


def test_robustness_gate_ignores_a_drop_within_noise() -> None:
    results = robustness_results([0.95, 0.94, 0.93, 0.91, 0.70, 0.50])
    results.loc[results["variant"] == "noise:3", "ci_high"] = 0.96  # the CI includes "no drop"
    inputs = GateInputs(results=results, paired=lambda *a: None, metric=METRICS.__getitem__)  # type: ignore[arg-type,return-value]
    gate = RobustnessGate(perturbation="noise", metric="accuracy", max_drop=0.03, min_breaking_severity=4)
    [outcome] = evaluate_gates([gate], inputs)
    assert outcome.value == 4 and outcome.status == "pass"


def test_drift_gate_counts_the_drifted_share() -> None:
    drift = pd.DataFrame(dict(dataset="d", column=list("abcd"), drifted=[True, False, False, True]))
    inputs = GateInputs(results=pd.DataFrame(), paired=lambda *a: None, metric=METRICS.__getitem__, drift=drift)  # type: ignore[arg-type,return-value]
    [fail] = evaluate_gates([DriftGate(max_drifted_share=0.25)], inputs)
    [ok] = evaluate_gates([DriftGate(max_drifted_share=0.5)], inputs)
    assert (fail.status, fail.value, ok.status) == ("fail", 0.5, "pass")
    assert "a, d" in fail.reason
    no_drift = GateInputs(results=pd.DataFrame(), paired=lambda *a: None, metric=METRICS.__getitem__)  # type: ignore[arg-type,return-value]
    assert evaluate_gates([DriftGate(max_drifted_share=0.5)], no_drift)[0].status == "inconclusive"


def test_expected_cost_against_a_hand_computed_matrix() -> None:
    spec = CostSpec(matrix={"cat": {"dog": 1.0, "fox": 4.0}, "fox": {"cat": 10.0}})
    fn = cost_metric(spec.as_array(3, classes=["cat", "dog", "fox"]))
    y = np.array([0, 0, 2, 1])
    scores = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1], [0.2, 0.7, 0.1]])
    assert fn(y, scores) == pytest.approx((1.0 + 4.0 + 10.0 + 0.0) / 4)
    assert cost_metric(np.eye(2)[::-1])(np.array([0, 1]), np.array([[0.9, 0.1], [0.9, 0.1]])) == 0.5
    with pytest.raises(ValidationError, match="non-negative"):
        CostSpec(matrix={0: {1: -1.0}})
    with pytest.raises(VigilError, match="expected a class"):
        spec.as_array(3, classes=["cat", "dog", "wolf"])
