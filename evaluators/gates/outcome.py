"""What one gate found, and how many outcomes fold into one verdict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Literal

import pandas as pd

Status = Literal["pass", "fail", "inconclusive", "reported"]
Verdict = Literal["pass", "fail", "inconclusive"]
NAN = float("nan")


@dataclass(frozen=True)
class GateOutcome:
    """One gate checked on one (model, dataset, variant, slice).

    ``reported`` marks a result shown for information but not gated (e.g. a
    slice with fewer than ``min_slice_n`` examples); it never moves a verdict.

    Attributes:
        gate: Human-readable description of the gate, e.g. ``accuracy ≥ 0.9``.
        model: The model checked.
        slice: ``all`` or ``<family>=<value>``.
        status: ``pass``, ``fail``, ``inconclusive`` or ``reported``.
        value: The measured value (metric, drop, breaking severity or drifted share).
        threshold: The bound it was held to.
        ci_low: Lower CI bound of ``value`` (or of the difference for drop gates).
        ci_high: Upper CI bound.
        diff: Candidate minus reference, for comparative gates.
        p_value: Raw one-sided p-value of the gate's test, when there is one.
        adjusted_p: Holm-adjusted p-value across the gate's slices.
        n: Examples behind the value.
        reason: One line saying why the status was given.
        dataset: Dataset the value was measured on.
        variant: ``clean`` or ``<perturbation>:<severity>``.
    """

    gate: str
    model: str
    slice: str
    status: Status
    value: float
    threshold: float
    ci_low: float = NAN
    ci_high: float = NAN
    diff: float = NAN
    p_value: float = NAN
    adjusted_p: float = NAN
    n: int = 0
    reason: str = ""
    dataset: str = ""
    variant: str = "clean"


def verdict(
    outcomes: Iterable[GateOutcome],
    inconclusive_as: Literal["fail", "pass", "inconclusive"] = "fail",
) -> Verdict:
    """Fold gate outcomes into one verdict.

    Any ``fail`` fails. Otherwise any ``inconclusive`` counts as
    ``inconclusive_as`` (fail by default: a release must show it is good
    enough). ``reported`` outcomes are ignored; no gates at all pass.

    Example:
        >>> o = GateOutcome("accuracy ≥ 0.9", "m", "all", "inconclusive", 0.91, 0.9)
        >>> verdict([o]), verdict([o], inconclusive_as="pass")
        ('fail', 'pass')
    """
    statuses = {o.status for o in outcomes}
    if "fail" in statuses:
        return "fail"
    if "inconclusive" in statuses:
        return inconclusive_as
    return "pass"


def outcomes_frame(outcomes: Iterable[GateOutcome]) -> pd.DataFrame:
    """Outcomes as a DataFrame, one row each, columns in field order."""
    columns = [f.name for f in fields(GateOutcome)]
    return pd.DataFrame([asdict(o) for o in outcomes], columns=columns)
