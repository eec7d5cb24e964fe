"""Write the breast-cancer example's shadow request log as Parquet (deterministic).

Production's answers come from the suite's baseline (the torch MLP), so the
boosting candidate disagrees with it on real rows. Requests arrive every five
minutes over two days. Four malformed rows are added to show quarantine:
``missing_field:latency_ms``, ``non_finite:mean_radius``, ``wrong_type:scores``
and ``duplicate_request_id``.

Usage: ``python examples/breast_cancer/make_request_log.py`` writes
``shadow/requests.parquet``; then
``vigil shadow replay --suite examples/breast_cancer/suite.yaml --log examples/breast_cancer/shadow/requests.parquet --window day``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from bench.sample_log import baseline_outputs, build_request_log  # noqa: E402
from evaluators.shadow.request_log.format import LATENCY_MS, REQUEST_ID, SCORES  # noqa: E402
from storage.datasets import DATASET_LOADERS  # noqa: E402
from storage.request_log import write_request_log  # noqa: E402
from suite.load import load_suite  # noqa: E402

SEED = 11
OUT = HERE / "shadow"
EXPECTED_QUARANTINE = {
    "duplicate_request_id": 1,
    f"missing_field:{LATENCY_MS}": 1,
    "non_finite:mean_radius": 1,
    f"wrong_type:{SCORES}": 1,
}


def main() -> None:
    suite = load_suite(HERE / "suite.yaml")
    frame = DATASET_LOADERS.get("sklearn.breast_cancer")("all")  # every row: a few hundred requests
    features = frame.drop(columns=["sample_id", "label"]).astype(float)
    scores = baseline_outputs(suite, features, num_classes=2)
    log = build_request_log(features, scores, seed=SEED, start="2026-03-02T00:00:00Z", interval_s=300, latency_median_ms=6.0)
    good = log.iloc[[10, 11, 12, 13]].copy()
    good[REQUEST_ID] = [f"req-bad-{i}" for i in range(1, 5)]
    good.loc[good.index[0], LATENCY_MS] = np.nan
    good.loc[good.index[1], "mean_radius"] = np.inf
    good.iat[3, good.columns.get_loc(REQUEST_ID)] = log[REQUEST_ID].iloc[20]
    log = pd.concat([log, good], ignore_index=True)
    log[SCORES] = [[float(v) for v in s] for s in log[SCORES]]
    log.at[len(log) - 2, SCORES] = [1.0]  # one probability for two classes
    path = write_request_log(log, OUT / "requests.parquet")
    print(f"wrote {len(log)} rows to {path}")


if __name__ == "__main__":
    main()
