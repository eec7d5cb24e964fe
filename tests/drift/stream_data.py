"""Seeded logged-prediction streams with a known change at window ``CHANGE`` (rows windows of ``ROWS``).

A model's logged score is ``p1 = sigmoid(2 x0 - 1.2 x1 + 0.9)`` and the labels are drawn from it, so
the logged scores are calibrated while nothing changes. The first ``REF_ROWS`` rows are the reference.

* ``concept``: from window ``CHANGE`` a fifth of the positive labels turn negative — features and
  scores keep their law, the label rate drops (about 0.66 -> 0.53) and so does accuracy.
* ``covariate``: from window ``CHANGE`` x0 and x1 shift; labels keep following the same law.
* ``prediction``: from window ``CHANGE`` the logged outputs come from a worse model (its score is
  shifted), while features and labels keep their law.
* ``both``: the covariate shift and, on top, 30% of the positive labels turn negative.
* ``none``: nothing changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROWS, WINDOWS, CHANGE, REF_ROWS = 500, 20, 10, 2000


def stream(kind: str, seed: int = 3, windows: int = WINDOWS, change: int = CHANGE) -> pd.DataFrame:
    """The reference rows then ``windows`` windows of ``ROWS`` rows (changed from window ``change``), with logged ``y_pred, p0, p1``."""
    rng = np.random.default_rng(seed)
    n = REF_ROWS + windows * ROWS
    after = np.arange(n) >= REF_ROWS + change * ROWS
    x = rng.normal(size=(n, 3))
    if kind in ("covariate", "both"):
        x[after, 0] += 1.0
        x[after, 1] -= 0.8
    p1 = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.2 * x[:, 1] + 0.9)))
    y = (rng.random(n) < p1).astype(np.int64)
    if kind == "concept":
        y[after & (y == 1) & (rng.random(n) < 0.2)] = 0
    if kind == "both":
        y[after & (y == 1) & (rng.random(n) < 0.3)] = 0
    if kind == "prediction":
        p1 = np.where(after, 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.2 * x[:, 1] - 0.6))), p1)
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "y": y,
                         "y_pred": (p1 > 0.5).astype(np.int64), "p0": 1 - p1, "p1": p1})


def write_logged_suite(root: Path, kind: str, windows: int = WINDOWS, change: int = CHANGE, **drift: object) -> Path:
    """A model-free suite over ``stream(kind)``: reference rows ``[0, REF_ROWS)``, windows of ``ROWS`` rows."""
    root.mkdir(parents=True, exist_ok=True)
    stream(kind, windows=windows, change=change).to_parquet(root / "stream.parquet", index=False)
    suite = {
        "name": f"logs-{kind}",
        "task": "classification",
        "datasets": [{"name": "stream", "path": "stream.parquet", "label": "y", "use": "reference",
                      "prediction": "y_pred", "scores": ["p0", "p1"]}],
        "metrics": ["accuracy"],
        "bootstrap": {"resamples": 100},
        "drift": {"reference": "stream", "reference_rows": [0, REF_ROWS], "window": {"rows": ROWS}, "html": False, **drift},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path
