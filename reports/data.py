"""Everything a report shows, already computed: the renderer touches no storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from reports.card import ModelCard


@dataclass(frozen=True)
class ReportData:
    """The inputs of one run's HTML report.

    Attributes:
        title: Heading, e.g. ``digits · run 3f2a``.
        verdict: The run's verdict.
        outcomes: Gate outcomes (``evaluators.gates.outcomes_frame``).
        results: This run's results in the long format.
        provenance: Free-form facts: suite hash, model shas, data shas, versions, host.
        primary_metric: The metric robustness curves and the slice heat map lead with;
            the first metric in ``results`` when None.
        higher_is_better: Metric directions; metrics not listed count as higher-is-better.
        across_classes: Metrics that compare classes (macro F1, ROC AUC): left out on single-class slices.
        drift: Per-column drift (dataset, column, method, score, threshold, drifted), if run.
        history: Earlier results of the same suite (created_at, model, metric, value,
            ci_low, ci_high), if any.
        worst_regions: ``evaluators.error_analysis.worst_regions`` output, if computed.
        newly_wrong: ``evaluators.error_analysis.newly_wrong`` output, if computed.
        robustness: Per model × perturbation: clean value, breaking severity, relative robustness.
        alignment: Per model version: proxy metric, downstream metric, and a misalignment flag.
        upstream: Per upstream module × model × dataset: the metric delta it caused, with its CI.
        cards: The model cards of the run's models (:mod:`reports.card`), if built.
        generated_at: When the report was rendered (UTC).
    """

    title: str
    verdict: Literal["pass", "fail", "inconclusive", "none"]
    outcomes: pd.DataFrame
    results: pd.DataFrame
    provenance: dict[str, Any] = field(default_factory=dict)
    primary_metric: str | None = None
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    across_classes: frozenset[str] = frozenset()
    drift: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    worst_regions: pd.DataFrame | None = None
    newly_wrong: pd.DataFrame | None = None
    robustness: pd.DataFrame | None = None
    alignment: pd.DataFrame | None = None
    upstream: pd.DataFrame | None = None
    cards: tuple[ModelCard, ...] = ()
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def primary(self) -> str | None:
        """The primary metric, or the first metric in the results."""
        if self.primary_metric:
            return self.primary_metric
        return str(self.results["metric"].iloc[0]) if not self.results.empty else None

    def model_with_role(self, role: str) -> str | None:
        """The first model in the results with the given role."""
        rows = self.results[self.results["role"] == role] if "role" in self.results else self.results.iloc[0:0]
        return str(rows["model"].iloc[0]) if not rows.empty else None
