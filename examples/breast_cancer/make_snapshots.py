"""Write the breast-cancer example's upstream feature snapshots, deterministically.

The ten ``worst_*`` features of the test split come from an upstream feature job;
each of its runs is a snapshot keyed by ``sample_id`` (the suite's ``upstream:``
module ``worst-features``, kind ``data_snapshot``):

* ``upstream/worst-features-2026-03.parquet`` — the current snapshot: the values
  scikit-learn ships.
* ``upstream/worst-features-2026-02.parquet`` — the previous snapshot, from before
  a unit fix: that run wrote ``worst_area`` in cm² (÷ 100) and ``worst_perimeter``
  in cm (÷ 10).

Each run then also evaluates ``ablation@worst-features`` (the February snapshot)
and attributes the change in accuracy to the fix, with a paired CI.

Usage: ``python examples/breast_cancer/make_snapshots.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from storage.datasets import DATASET_LOADERS  # noqa: E402
from storage.parquet import write_parquet_atomic  # noqa: E402

OUT = HERE / "upstream"


def main() -> None:
    test = DATASET_LOADERS.get("sklearn.breast_cancer")("test")
    worst = test[["sample_id", *[c for c in test.columns if c.startswith("worst_")]]].reset_index(drop=True)
    february = worst.assign(worst_area=worst["worst_area"] / 100, worst_perimeter=worst["worst_perimeter"] / 10)
    OUT.mkdir(exist_ok=True)
    for name, frame in (("worst-features-2026-03", worst), ("worst-features-2026-02", february)):
        write_parquet_atomic(frame, OUT / f"{name}.parquet")
        print(f"wrote {OUT / name}.parquet ({len(frame)} rows)")


if __name__ == "__main__":
    main()
