"""Gates: thresholds a candidate must meet, checked with their statistical evidence.

Pure functions over a :class:`GateInputs`; the flows gather the evidence and
persist the outcomes. See :mod:`evaluators.gates.metric_gates` for the exact
pass / fail / inconclusive semantics.
"""

from evaluators.gates.evaluate import AnyGate, evaluate_gates
from evaluators.gates.inputs import GateInputs, MetricLookup, PairedArrays, PairedSource
from evaluators.gates.metric_gates import evaluate_metric_gate
from evaluators.gates.outcome import GateOutcome, Status, Verdict, outcomes_frame, verdict
from evaluators.gates.robustness_drift import evaluate_drift_gate, evaluate_robustness_gate
from suite.spec import CostSpec, DriftGate, RobustnessGate

__all__ = [
    "AnyGate",
    "CostSpec",
    "DriftGate",
    "GateInputs",
    "GateOutcome",
    "MetricLookup",
    "PairedArrays",
    "PairedSource",
    "RobustnessGate",
    "Status",
    "Verdict",
    "evaluate_drift_gate",
    "evaluate_gates",
    "evaluate_metric_gate",
    "evaluate_robustness_gate",
    "outcomes_frame",
    "verdict",
]
