"""Gate shapes beyond the suite's GateSpec: robustness, drift, and a misclassification cost.

The three models depend only on pydantic, numpy and ``suite`` so they can move
verbatim into ``suite/spec.py`` (``SuiteSpec`` cannot import this package
without an import cycle); :func:`expected_cost` stays here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field, PositiveInt, model_validator

from evaluators.statistics import MetricFn
from suite.errors import VigilError
from suite.spec import Frozen


class RobustnessGate(Frozen):
    """The candidate must hold up to a perturbation until at least ``min_breaking_severity``.

    A severity *breaks* the model when the metric drops from its clean value by
    more than ``max_drop`` (in the metric's bad direction). The gate fails when
    any severity below ``min_breaking_severity`` breaks it.

    Example (suite YAML)::

        robustness_gates:
          - {perturbation: gaussian_noise, metric: accuracy, max_drop: 0.05, min_breaking_severity: 3}
    """

    perturbation: str
    metric: str
    model: str | None = None
    max_drop: float = Field(ge=0)
    min_breaking_severity: PositiveInt


class DriftGate(Frozen):
    """At most ``max_drifted_share`` of the monitored columns may drift."""

    max_drifted_share: float = Field(ge=0, le=1)
    dataset: str | None = None


class CostSpec(Frozen):
    """A misclassification cost matrix ``{true: {pred: cost}}``; missing pairs cost 0.

    Keys are class indices or, when ``classes`` is given to :meth:`matrix`,
    class names. Costs must be non-negative.

    Example:
        >>> spec = CostSpec(costs={1: {0: 5.0}, 0: {1: 1.0}})
        >>> spec.matrix(2).tolist()
        [[0.0, 1.0], [5.0, 0.0]]
        >>> fn = expected_cost(spec.matrix(2))
        >>> float(fn(np.array([1, 0]), np.array([[0.9, 0.1], [0.2, 0.8]])))
        3.0
    """

    costs: dict[int | str, dict[int | str, float]]
    name: str = "expected_cost"

    @model_validator(mode="after")
    def _non_negative(self) -> CostSpec:
        for true, row in self.costs.items():
            for pred, cost in row.items():
                if cost < 0:
                    raise ValueError(f"costs[{true}][{pred}]: expected a non-negative cost, got {cost}")
        return self

    def matrix(self, k: int, classes: Sequence[int | str] | None = None) -> np.ndarray:
        """The ``(k, k)`` cost matrix, rows true class, columns predicted class."""
        index = {c: i for i, c in enumerate(classes)} if classes is not None else {}

        def position(key: int | str, where: str) -> int:
            if key in index:
                return index[key]
            try:
                i = int(key)
            except (TypeError, ValueError):
                raise VigilError(f"costs: {where} {key!r}: expected a class in {list(index)}") from None
            if not 0 <= i < k:
                raise VigilError(f"costs: {where} {key!r}: expected a class index in 0..{k - 1}")
            return i

        out = np.zeros((k, k))
        for true, row in self.costs.items():
            for pred, cost in row.items():
                out[position(true, "true class"), position(pred, "predicted class")] = cost
        return out


def expected_cost(matrix: np.ndarray) -> MetricFn:
    """A metric giving the mean misclassification cost per example of argmax predictions.

    Args:
        matrix: ``(k, k)`` costs, rows true class, columns predicted class.

    Returns:
        ``fn(y_true, scores) -> float``; ``higher_is_better`` is False.
    """
    costs = np.asarray(matrix, dtype=float)

    def fn(y_true: np.ndarray, scores: np.ndarray) -> float:
        y = np.asarray(y_true, dtype=int)
        if len(y) == 0:
            return float("nan")
        predicted = np.argmax(np.asarray(scores), axis=1)
        return float(costs[y, predicted].mean())

    return fn
