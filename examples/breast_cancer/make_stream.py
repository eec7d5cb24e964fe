"""Write the breast-cancer example's drift data, deterministically.

* ``data/reference.parquet`` — the fixed training split (what the models were fit on):
  the drift reference.
* ``data/stream.parquet`` — 7 daily windows of 300 rows (2,100 rows, 2026-03-01 to
  2026-03-07) with a ``timestamp`` column, drawn with replacement from the held-out
  test split with 2% multiplicative jitter (so rows are not exact duplicates).
  Days 1–4 draw rows uniformly. From day 5 (``SHIFT_DAY``, 2026-03-05) rows with a large
  ``worst_area`` are drawn far more often: a pure covariate shift — P(x) changes, while
  P(y | x) stays what the real rows have. Labels are present for days 1–5 and missing
  (NULL) for the last two days, as if they had not arrived yet.

Usage: ``python examples/breast_cancer/make_stream.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from daily_stream import daily_stream  # noqa: E402

from storage.datasets import DATASET_LOADERS  # noqa: E402

DATA = HERE / "data"
START = pd.Timestamp("2026-03-01")
DAYS = 7
ROWS_PER_DAY = 300
SHIFT_DAY = 5  # 1-based: the first shifted window starts on 2026-03-05
LABELLED_DAYS = 5
SEED = 2026


def reference() -> pd.DataFrame:
    """The training split the models were fit on (sample_id, 30 features, label)."""
    return DATASET_LOADERS.get("sklearn.breast_cancer")("train")


def stream() -> pd.DataFrame:
    """Seven daily windows drawn from the test split, shifted from ``SHIFT_DAY`` on."""
    pool = DATASET_LOADERS.get("sklearn.breast_cancer")("test")
    features = [c for c in pool.columns if c not in ("sample_id", "label")]
    rank = pool["worst_area"].rank(pct=True).to_numpy()
    shifted = np.exp(4.0 * rank)

    def draw(day: int, rng: np.random.Generator) -> pd.DataFrame:
        weights = shifted if day + 1 >= SHIFT_DAY else np.ones(len(pool))
        rows = pool.iloc[rng.choice(len(pool), ROWS_PER_DAY, p=weights / weights.sum())].reset_index(drop=True)
        jitter = rng.normal(1.0, 0.02, size=(ROWS_PER_DAY, len(features)))
        rows[features] = (rows[features].to_numpy(dtype=np.float64) * jitter).astype(np.float32)
        return rows

    return daily_stream(draw, days=DAYS, start=START, labelled_days=LABELLED_DAYS, seed=SEED)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    reference().to_parquet(DATA / "reference.parquet", index=False)
    stream().to_parquet(DATA / "stream.parquet", index=False)
    print(f"wrote {DATA / 'reference.parquet'} and {DATA / 'stream.parquet'}")


if __name__ == "__main__":
    main()
