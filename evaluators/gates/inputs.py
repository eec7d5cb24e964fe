"""Everything a gate looks at, handed in as plain values so gates stay pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from evaluators.statistics import MetricFn

PairedArrays = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(y_true, candidate scores, baseline scores) on the same examples, same order."""

PairedSource = Callable[[str, str, str, str, str], PairedArrays]
"""(candidate, baseline, dataset, variant, slice) -> PairedArrays."""

MetricLookup = Callable[[str], tuple[MetricFn, bool]]
"""Metric name -> (metric function, higher_is_better). Hand back the
:class:`~evaluators.metrics.base.Metric` itself (as ``pipeline.evaluate.decide.metric_lookup``
does): on samples above :data:`~evaluators.intervals.EXACT_MAX_ROWS` rows the paired test
then uses its sufficient statistics instead of ``B`` full metric calls."""


@dataclass(frozen=True)
class GateInputs:
    """The evidence for one run's gates.

    Attributes:
        results: This run's results in the long format (run_id, dataset, model,
            role, variant, slice, metric, value, ci_low, ci_high, n, ...).
        paired: Returns the paired arrays behind a (candidate, baseline, dataset,
            variant, slice) comparison.
        metric: Looks a metric up by name.
        last_pass: Results of the last run that passed its gates, if any.
        drift: Per-column drift results (dataset, column, drifted, ...), if any.
        resamples: Bootstrap resamples for paired differences.
        confidence: Two-sided confidence of reported intervals.
        seed: Seed for the bootstrap; the same inputs and seed give the same verdict.
        bound_policy: ``ci``: an absolute bound passes when the CI lies within it,
            fails when the CI lies beyond it, and is inconclusive when the CI
            straddles it; ``point``: the point value decides, the CI is reported.
        mcnemar_metrics: Metrics whose drop is tested with the exact McNemar test
            on paired correctness instead of the paired bootstrap.
    """

    results: pd.DataFrame
    paired: PairedSource
    metric: MetricLookup
    last_pass: pd.DataFrame | None = None
    drift: pd.DataFrame | None = None
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    bound_policy: Literal["ci", "point"] = "ci"
    mcnemar_metrics: frozenset[str] = field(default_factory=lambda: frozenset({"accuracy"}))

    def models(self, role: str) -> list[str]:
        """Model names in the results with the given role, in first-seen order."""
        rows = self.results[self.results["role"] == role]
        return list(dict.fromkeys(rows["model"]))

    def baseline(self) -> str | None:
        """The baseline model's name, if the run has one."""
        names = self.models("baseline")
        return names[0] if names else None
