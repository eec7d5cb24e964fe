"""Metrics: one file each, all registered in :data:`METRICS`.

Example:
    >>> metrics_for("regression")
    ['mae', 'r2', 'rmse']
    >>> get_metric("accuracy", "classification").higher_is_better
    True
"""

from __future__ import annotations

from evaluators.metrics import accuracy, ece, log_loss, macro_f1, mae, r2, rmse, roc_auc  # noqa: F401  (registers)
from evaluators.metrics.base import METRICS, Metric
from suite.errors import VigilError

__all__ = ["METRICS", "Metric", "get_metric", "metrics_for"]


def metrics_for(task: str) -> list[str]:
    """Names of the registered metrics for ``task``, sorted."""
    return [name for name, metric in METRICS.items() if metric.task == task]


def get_metric(name: str, task: str) -> Metric:
    """The metric ``name``, checked to apply to ``task``.

    Raises:
        VigilError: the name is unknown (with a did-you-mean) or the metric is
            for the other task.
    """
    metric = METRICS.get(name)
    if metric.task != task:
        raise VigilError(
            f"metric {name!r}: expected a {task} metric ({', '.join(metrics_for(task))}), "
            f"got a {metric.task} metric"
        )
    return metric
