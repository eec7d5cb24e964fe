"""Everything a gate looks at, handed in as plain values so gates stay pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from evaluators.paired_chunked import PairedTest, correct
from evaluators.statistics import MetricFn, mcnemar_exact, paired_bootstrap_diff

PairedArrays = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(y_true, candidate scores, baseline scores) on the same examples, same order."""

PairedSource = Callable[[str, str, str, str, str], PairedArrays]
"""(candidate, baseline, dataset, variant, slice) -> PairedArrays."""


@dataclass(frozen=True)
class PairedQuery:
    """One paired comparison a drop-vs-baseline gate asks for, over every slice at once."""

    candidate: str
    baseline: str
    dataset: str
    variant: str
    metric: str
    mcnemar: bool
    resamples: int
    confidence: float
    seed: int


PairedTestSource = Callable[[PairedQuery], dict[str, PairedTest]]
"""PairedQuery -> {slice: PairedTest}: what a run's predictions stream through
(:class:`~evaluators.paired_chunked.ChunkedPairedScorer`), never held whole."""

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
            variant, slice) comparison; used where ``paired_tests`` is not given.
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
        paired_tests: Gives the paired tests of every slice of a comparison at once,
            from predictions streamed in chunks (a run's gates use this; ``paired``
            holds both models' arrays whole).
    """

    results: pd.DataFrame
    paired: PairedSource | None
    metric: MetricLookup
    last_pass: pd.DataFrame | None = None
    drift: pd.DataFrame | None = None
    resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    bound_policy: Literal["ci", "point"] = "ci"
    mcnemar_metrics: frozenset[str] = field(default_factory=lambda: frozenset({"accuracy"}))
    paired_tests: PairedTestSource | None = None

    def paired_test(self, candidate: str, baseline: str, dataset: str, variant: str, slice_: str, metric: str) -> PairedTest:
        """The paired difference ``metric(candidate) - metric(baseline)`` on a slice, with McNemar's test for ``mcnemar_metrics``."""
        query = PairedQuery(candidate, baseline, dataset, variant, metric, metric in self.mcnemar_metrics,
                            self.resamples, self.confidence, self.seed)
        if self.paired_tests is not None:
            return self.paired_tests(query)[slice_]
        if self.paired is None:
            raise ValueError("gate inputs: expected paired arrays or paired tests for a comparison with the baseline, got neither")
        y, cand, ref = self.paired(candidate, baseline, dataset, variant, slice_)
        diff = paired_bootstrap_diff(self.metric(metric)[0], y, cand, ref, resamples=self.resamples, confidence=self.confidence, seed=self.seed)
        return PairedTest(diff, mcnemar_exact(correct(y, cand), correct(y, ref)) if query.mcnemar else None)

    def models(self, role: str) -> list[str]:
        """Model names in the results with the given role, in first-seen order."""
        rows = self.results[self.results["role"] == role]
        return list(dict.fromkeys(rows["model"]))

    def baseline(self) -> str | None:
        """The baseline model's name, if the run has one."""
        names = self.models("baseline")
        return names[0] if names else None
