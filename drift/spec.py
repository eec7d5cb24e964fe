"""Suite sections for drift: data drift against a reference, and drift of a metric's history."""

from __future__ import annotations

from suite.sections import DriftSpec, MetricDriftSpec

__all__ = ["DriftSpec", "MetricDriftSpec"]
