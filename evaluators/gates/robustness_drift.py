"""Robustness and drift gates: read from the run's results and drift table."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from evaluators.gates.inputs import GateInputs
from evaluators.gates.outcome import NAN, GateOutcome
from evaluators.robustness import CurvePoint, breaking_severity, robustness_curve, severity_points
from suite.spec import DriftGate, RobustnessGate


def _curve(
    results: pd.DataFrame, model: str, dataset: str, perturbation: str, metric: str, max_drop: float, higher_is_better: bool
) -> tuple[float, list[CurvePoint]]:
    """(breaking severity — ``inf`` if none breaks, NaN without results — and the curve) of one model."""
    rows = results[
        (results["model"] == model) & (results["dataset"] == dataset)
        & (results["metric"] == metric) & (results["slice"] == "all")
    ]
    points = severity_points(rows, perturbation)
    if len(points) < 2 or points[0].severity != 0:
        return NAN, []
    curve = robustness_curve(points, tolerance=max_drop, higher_is_better=higher_is_better)
    broken = breaking_severity(points, tolerance=max_drop, higher_is_better=higher_is_better)
    return (math.inf if broken is None else float(broken)), curve


def evaluate_robustness_gate(gate: RobustnessGate, inputs: GateInputs) -> list[GateOutcome]:
    """Fail when the model breaks at a severity below ``min_breaking_severity``.

    The outcome's ``value`` is the breaking severity (``inf`` when no severity
    breaks it) and ``threshold`` the required minimum.
    """
    _, higher_is_better = inputs.metric(gate.metric)
    label = f"{gate.perturbation}: {gate.metric} holds (drop ≤ {gate.max_drop:g}) below severity {gate.min_breaking_severity}"
    models = [gate.model] if gate.model else inputs.models("candidate")
    out: list[GateOutcome] = []
    for model in models:
        datasets = sorted(set(inputs.results.loc[inputs.results["model"] == model, "dataset"]))
        for dataset in datasets or [""]:
            k, curve = _curve(inputs.results, model, dataset, gate.perturbation, gate.metric,
                              gate.max_drop, higher_is_better)
            base = GateOutcome(label, model, "all", "pass", k, float(gate.min_breaking_severity),
                               dataset=dataset, variant=gate.perturbation)
            if math.isnan(k):
                out.append(replace(base, status="inconclusive", reason=f"no clean and {gate.perturbation} results"))
            elif k < gate.min_breaking_severity:
                drop = next(c.drop for c in curve if c.severity == k)
                out.append(replace(base, status="fail", reason=f"breaks at severity {k:g} (drop {drop:.4g})"))
            else:
                why = "never breaks" if math.isinf(k) else f"first breaks at severity {k:g}"
                out.append(replace(base, reason=why))
    return out


def evaluate_drift_gate(gate: DriftGate, inputs: GateInputs) -> list[GateOutcome]:
    """Fail when the share of drifted columns exceeds ``max_drifted_share``.

    Reads ``inputs.drift`` (columns ``dataset``, ``column``, ``drifted``); with
    no drift table the outcome is ``inconclusive``.
    """
    label = f"drifted columns ≤ {gate.max_drifted_share:.0%}"
    drift = inputs.drift
    if drift is not None and gate.dataset is not None:
        drift = drift[drift["dataset"] == gate.dataset]
    if drift is None or drift.empty:
        return [GateOutcome(label, "", "all", "inconclusive", NAN, gate.max_drifted_share,
                            reason="no drift results", dataset=gate.dataset or "")]
    out: list[GateOutcome] = []
    for dataset, rows in drift.groupby("dataset", sort=True):
        share = float(rows["drifted"].astype(bool).mean())
        drifted = sorted(rows.loc[rows["drifted"].astype(bool), "column"].astype(str))
        status = "fail" if share > gate.max_drifted_share else "pass"
        names = ", ".join(drifted[:5]) + (" …" if len(drifted) > 5 else "")
        out.append(GateOutcome(label, "", "all", status, share, gate.max_drifted_share, n=len(rows),
                               dataset=str(dataset), reason=f"{len(drifted)}/{len(rows)} drifted" + (f": {names}" if names else "")))
    return out

