"""Check every gate of a run and fold the outcomes into one verdict."""

from __future__ import annotations

from collections.abc import Sequence

from evaluators.gates.inputs import GateInputs
from evaluators.gates.metric_gates import evaluate_metric_gate
from evaluators.gates.outcome import GateOutcome
from evaluators.gates.robustness_drift import evaluate_drift_gate, evaluate_robustness_gate
from suite.spec import DriftGate, GateSpec, RobustnessGate

AnyGate = GateSpec | RobustnessGate | DriftGate


def evaluate_gates(gates: Sequence[AnyGate], inputs: GateInputs) -> list[GateOutcome]:
    """All outcomes of all gates, in gate order.

    Example:
        >>> outcomes = evaluate_gates(suite.gates + robustness_gates, inputs)  # doctest: +SKIP
        >>> verdict(outcomes)  # doctest: +SKIP
        'pass'
    """
    outcomes: list[GateOutcome] = []
    for gate in gates:
        if isinstance(gate, GateSpec):
            outcomes += evaluate_metric_gate(gate, inputs)
        elif isinstance(gate, RobustnessGate):
            outcomes += evaluate_robustness_gate(gate, inputs)
        elif isinstance(gate, DriftGate):
            outcomes += evaluate_drift_gate(gate, inputs)
        else:
            raise TypeError(f"expected GateSpec, RobustnessGate or DriftGate, got {type(gate).__name__}")
    return outcomes
