"""Build a synthetic request log from features and a production model's outputs (test and demo data, not product code).

Used by the examples' ``make_request_log.py`` and by ``tests/shadow``: latencies are
drawn from a seeded log-normal, so the same inputs give the same log on any machine.
Columns are named by :mod:`evaluators.shadow.request_log.format`.

Example:
    >>> import numpy as np, pandas as pd
    >>> log = build_request_log(pd.DataFrame({"x": [0.1, 0.2]}), np.array([[0.9, 0.1], [0.3, 0.7]]), seed=1)
    >>> log[["request_id", "prediction"]].values.tolist()
    [['req-000000', 0], ['req-000001', 1]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from evaluators.shadow.request_log.format import FEATURES, LABEL, LATENCY_MS, PREDICTION, REQUEST_ID, SCORES, TIMESTAMP
from storage.request_log import write_request_log
from suite.spec import SuiteSpec
from workers.predictor import Predictor


def build_request_log(
    features: pd.DataFrame,
    production_outputs: np.ndarray,
    *,
    seed: int = 0,
    labels: np.ndarray | None = None,
    start: str = "2026-01-01T00:00:00Z",
    interval_s: float = 1.0,
    latency_median_ms: float = 5.0,
    features_as: Literal["columns", "json"] = "columns",
) -> pd.DataFrame:
    """A request-log frame, one row per feature row.

    Args:
        features: one column per feature.
        production_outputs: ``(n, k)`` probabilities (classification) or ``(n,)`` values.
        seed: seeds the latencies.
        labels: optional ground truth, one per row.
        start: timestamp of the first request; later ones follow every ``interval_s`` seconds.
        interval_s: seconds between requests.
        latency_median_ms: median of the log-normal production latency.
        features_as: named columns, or a ``features`` JSON object per row.
    """
    n = len(features)
    outputs = np.asarray(production_outputs, float)
    if len(outputs) != n:
        raise ValueError(f"expected {n} production outputs, got {len(outputs)}")
    rng = np.random.default_rng(seed)
    log = pd.DataFrame(
        {
            REQUEST_ID: [f"req-{i:06d}" for i in range(n)],
            TIMESTAMP: pd.Timestamp(start) + pd.to_timedelta(np.arange(n) * interval_s, unit="s"),
        }
    )
    if features_as == "json":
        log[FEATURES] = features.reset_index(drop=True).to_json(orient="records", lines=True).splitlines()
    else:
        log = pd.concat([log, features.reset_index(drop=True)], axis=1)
    if outputs.ndim == 2:
        log[PREDICTION] = outputs.argmax(axis=1)
        log[SCORES] = list(outputs)
    else:
        log[PREDICTION] = outputs
    log[LATENCY_MS] = latency_median_ms * np.exp(rng.normal(0.0, 0.3, size=n))
    if labels is not None:
        log[LABEL] = np.asarray(labels)
    return log


def baseline_outputs(suite: SuiteSpec, features: pd.DataFrame, num_classes: int) -> np.ndarray:
    """Production's answers in the examples' logs: the suite's baseline on ``features`` (as float32), rounded to 6 decimals."""
    production = Predictor(suite.baseline, suite.base_dir, task=suite.task, num_classes=num_classes, num_threads=1)  # type: ignore[arg-type]
    return np.round(production(features.to_numpy(np.float32)).astype(float), 6)


def write_sample_log(path: str | Path, features: pd.DataFrame, production_outputs: np.ndarray, **options: object) -> Path:
    """Build a log with :func:`build_request_log` and write it (Parquet or JSONL by suffix)."""
    return write_request_log(build_request_log(features, production_outputs, **options), path)  # type: ignore[arg-type]
