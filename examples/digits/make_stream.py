"""Write the digits example's drift data, deterministically.

* ``data/reference.parquet`` — half of the held-out test split (``REFERENCE_ROWS`` images the
  models never saw in training): the drift reference. A reference must be data like production's,
  not the training data: a model is near perfect on what it was fit on, so a training-split
  reference makes every later window look like a drop in accuracy, and the label-free estimate,
  calibrated on it, too optimistic.
* ``data/stream.parquet`` — 7 daily windows of 150 images (1,050 rows, 2026-03-01 to
  2026-03-07) with a ``timestamp`` column, drawn with replacement from the other half of the
  test split. From day 5 (``SHIFT_DAY``) a scanner fault dims every image to 55% of its ink
  (pixel values × 0.55, rounded): a pure covariate shift — P(x) changes, the digits do
  not. Labels are present for days 1–5 and missing for the last two.

Usage: ``python examples/digits/make_stream.py``
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
DAYS, ROWS_PER_DAY, SHIFT_DAY, LABELLED_DAYS, DIMMING, SEED = 7, 150, 5, 5, 0.55, 2026
REFERENCE_ROWS = 270


def halves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The test split shuffled once (seeded) and cut in two: the reference, and the stream's pool."""
    test = DATASET_LOADERS.get("sklearn.digits")("test")
    order = np.random.default_rng(SEED + 1).permutation(len(test))
    return test.iloc[order[:REFERENCE_ROWS]].reset_index(drop=True), test.iloc[order[REFERENCE_ROWS:]].reset_index(drop=True)


def stream(pool: pd.DataFrame) -> pd.DataFrame:
    """Seven daily windows drawn from ``pool``, dimmed from ``SHIFT_DAY`` on."""
    pixels = [c for c in pool.columns if c.startswith("pixel_")]

    def draw(day: int, rng: np.random.Generator) -> pd.DataFrame:
        rows = pool.iloc[rng.choice(len(pool), ROWS_PER_DAY)].reset_index(drop=True)
        if day + 1 >= SHIFT_DAY:
            rows[pixels] = np.round(rows[pixels].to_numpy() * DIMMING).astype(np.float32)
        return rows

    return daily_stream(draw, days=DAYS, start=START, labelled_days=LABELLED_DAYS, seed=SEED)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    reference, pool = halves()
    reference.to_parquet(DATA / "reference.parquet", index=False)
    stream(pool).to_parquet(DATA / "stream.parquet", index=False)
    print(f"wrote {DATA / 'reference.parquet'} and {DATA / 'stream.parquet'}")


if __name__ == "__main__":
    main()
