"""The suite's candidate answering live requests one at a time, for the shadow mirror.

A request body is ``{"features": {"<name>": value, ...}}`` or
``{"features": [v0, v1, ...]}``; the answer is ``{"prediction": k, "scores":
[...]}`` (classification) or ``{"prediction": y}`` (regression).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.shadow.replay import candidate_context
from suite.errors import DataError
from suite.spec import ModelSpec, SuiteSpec
from workers.predictor import Predictor


class OnlineCandidate:
    """The suite's candidate answering one request body at a time (the mirror runs it in threads).

    A body is ``{"features": {"<name>": value, ...}}`` (every feature the model
    takes, by name) or ``{"features": [v0, v1, ...]}`` (in the suite's feature
    order). The answer is ``{"prediction": k, "scores": [p0, ...]}`` for
    classification and ``{"prediction": y}`` for regression.
    """

    def __init__(self, spec: ModelSpec, base_dir: Path, features: list[str], classes: list[int | str] | None, task: str) -> None:
        self.name = spec.name
        self.features = features
        self.task = task
        self.as_frame = spec.input == "frame"
        self.predictor = Predictor(spec, base_dir, task=task, num_classes=len(classes) if classes else None, num_threads=1)

    def __call__(self, payload: Any) -> dict[str, Any]:
        row = request_features(payload, self.features)
        batch = pd.DataFrame([row], columns=self.features) if self.as_frame else np.asarray([row], np.float32)
        out = self.predictor(batch)[0]
        if self.task == "classification":
            return {"prediction": int(np.argmax(out)), "scores": [float(v) for v in out]}
        return {"prediction": float(out)}


def request_features(payload: Any, names: list[str]) -> list[Any]:
    """One row of features, in ``names`` order, from a request body.

    Example:
        >>> request_features({"features": {"b": 2, "a": 1}}, ["a", "b"])
        [1, 2]

    Raises:
        DataError: the body is not ``{"features": {...}}`` or ``{"features": [...]}`` with every feature.
    """
    features = payload.get("features") if isinstance(payload, dict) else None
    if isinstance(features, dict):
        missing = [n for n in names if n not in features]
        if missing:
            raise DataError(f"request body: features: expected keys {missing[:3]}…, got {sorted(features)[:3]}…")
        return [features[n] for n in names]
    if isinstance(features, list) and len(features) == len(names):
        return features
    got = type(features).__name__ if not isinstance(features, list) else f"a list of {len(features)}"
    raise DataError(f"request body: features: expected an object of {len(names)} named features or a list of {len(names)}, got {got}")


def load_online_candidate(suite: SuiteSpec, model: str | None = None) -> OnlineCandidate:
    """Verify (sha256) and load the suite's candidate for answering single requests in process."""
    spec, features, classes = candidate_context(suite, model)
    return OnlineCandidate(spec, suite.base_dir, features, classes, suite.task)
