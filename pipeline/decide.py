"""Stage 4: apply the suite's gates to the scored results and reach a verdict."""

from __future__ import annotations

from pydantic import BaseModel

from pipeline.plan import RunPlan
from pipeline.score import staged_results_path
from storage.frames import read_frame
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import Settings


class Outcome(BaseModel):
    """One gate's result for one model (and slice), with its evidence."""

    gate: str
    model: str
    slice: str = "all"
    status: str
    value: float = float("nan")
    threshold: float = float("nan")
    reason: str = ""


class Decision(BaseModel):
    """A run's verdict and the outcomes it rests on."""

    verdict: str
    outcomes: list[Outcome] = []

    def failed_gates(self) -> list[str]:
        """Short names of the failed gates."""
        return [f"{o.gate} ({o.model}{'' if o.slice == 'all' else ', ' + o.slice})" for o in self.outcomes if o.status == "fail"]


def decide_run(plan: RunPlan, settings: Settings) -> Decision:
    """Evaluate the suite's gates on the staged results."""
    suite = load_suite(plan.suite_path)
    results = read_frame(staged_results_path(ResultStore(settings), plan.run_id))
    if not suite.gates:
        return Decision(verdict="none")
    outcomes: list[Outcome] = []
    clean = results[(results["variant"] == "clean") & (results["slice"] == "all")]
    baseline = suite.baseline
    for gate in suite.gates:
        for model in [m for m in suite.candidates if gate.model in (None, m.name)]:
            row = clean[(clean["model"] == model.name) & (clean["metric"] == gate.metric)].iloc[0]
            if gate.min is not None or gate.max is not None:
                ok = (gate.min is None or row.value >= gate.min) and (gate.max is None or row.value <= gate.max)
                bound = gate.min if gate.min is not None else gate.max
                outcomes.append(Outcome(gate=f"{gate.metric} bound", model=model.name, status="pass" if ok else "fail", value=row.value, threshold=bound))
            if gate.max_drop is not None and baseline is not None:
                base = clean[(clean["model"] == baseline.name) & (clean["metric"] == gate.metric)].iloc[0]
                drop = base.value - row.value
                outcomes.append(Outcome(gate=f"{gate.metric} drop vs {baseline.name}", model=model.name, status="fail" if drop > gate.max_drop else "pass", value=-drop, threshold=-gate.max_drop))
    verdict = "fail" if any(o.status == "fail" for o in outcomes) else "pass"
    return Decision(verdict=verdict, outcomes=outcomes)
