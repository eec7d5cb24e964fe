"""A synthetic suite for the drift wiring tests: a calibrated logistic model and a stream with a known change point.

Labels are drawn from the same logistic law the model is fit to, so the model is
calibrated on any x (pure covariate shift keeps it calibrated). Windows 1–2 come
from the reference distribution; from window 3 (``CHANGE_DAY``) ``x0`` and ``x1``
shift; window 4 has no labels yet.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

START = pd.Timestamp("2026-05-01")
CHANGE_DAY = 3
DAYS = 4
ROWS = 400
COEF, INTERCEPT = np.array([1.5, -1.0, 0.0]), 0.3


def _rows(rng: np.random.Generator, n: int, shift: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> pd.DataFrame:
    x = rng.normal(size=(n, 3)) + np.array(shift)
    p = 1 / (1 + np.exp(-(x @ COEF + INTERCEPT)))
    return pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "x2": x[:, 2], "y": (rng.random(n) < p).astype(np.int64)})


def write_suite(root: Path, **drift: object) -> Path:
    """Write the model, the data and ``suite.yaml`` under ``root``; ``drift`` overrides the drift section."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(42)
    root.mkdir(parents=True, exist_ok=True)
    train = _rows(rng, 5000)
    model = LogisticRegression().fit(train[["x0", "x1", "x2"]].to_numpy(np.float32), train["y"])
    sio.dump(model, root / "model.skops")
    _rows(rng, 800).to_parquet(root / "reference.parquet", index=False)
    _rows(rng, 500).to_parquet(root / "holdout.parquet", index=False)
    days = []
    for day in range(DAYS):
        frame = _rows(rng, ROWS, (1.0, -0.8, 0.0) if day + 1 >= CHANGE_DAY else (0.0, 0.0, 0.0))
        frame["ts"] = START + pd.Timedelta(days=day) + pd.to_timedelta(np.sort(rng.integers(0, 86_400, ROWS)), unit="s")
        frame["y"] = frame["y"].astype("Float64") if day + 1 < DAYS else pd.array([pd.NA] * ROWS, dtype="Float64")
        days.append(frame)
    pd.concat(days, ignore_index=True).to_parquet(root / "stream.parquet", index=False)
    suite = {
        "name": "synth",
        "task": "classification",
        "seed": 1,
        "models": [{"name": "logit", "role": "candidate", "format": "skops", "path": "model.skops",
                    "sha256": hashlib.sha256((root / "model.skops").read_bytes()).hexdigest(), "output": "probabilities"}],
        "datasets": [
            {"name": "holdout", "path": "holdout.parquet", "label": "y"},
            {"name": "reference", "path": "reference.parquet", "label": "y", "use": "reference"},
            {"name": "stream", "path": "stream.parquet", "label": "y", "timestamp": "ts", "use": "reference"},
        ],
        "metrics": ["accuracy", "ece"],
        "primary_metric": "accuracy",
        "bootstrap": {"resamples": 200},
        "drift": {"reference": "reference", "window": "1D", "html": False, **drift},
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def window_day(run_id: str) -> int:
    """1-based day of a window run id ``…-<start>-<end>``."""
    start = pd.Timestamp(run_id.rsplit("-", 2)[1])
    return (start - START).days + 1


def read_events(name: str, resource_id: str, expected: int, timeout: float = 20.0) -> list:
    """Events ``name`` about ``resource_id`` from the Prefect server, waiting for ``expected`` of them to land."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()
    query = EventFilter(event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource_id]))
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            events = list(client.read_events(filter=query, limit=50).events)
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.5)
