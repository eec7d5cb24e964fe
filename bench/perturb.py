"""Rows per second of each tabular perturbation on one process.

Numeric families run on 1,000,000 rows x 10 float64 columns; the categorical
ones on 1,000,000 rows x 2 object columns of short strings. Each figure is the
best of ``--repeats`` runs at severity 3, in rows per CPU-second of this process
(numpy's element-wise work is single-threaded, so this is the per-core rate and
does not depend on how busy the other cores are); wall-clock rows/s is printed
beside it. The last line is ``min_numeric_rows_per_s: N`` (the slowest numeric
family, per CPU-second).

Run: ``PYTHONPATH=. python bench/perturb.py [--rows 1000000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from evaluators.perturbations import PERTURBATIONS, context_from_frame

NUMERIC = ["gaussian_noise", "scale_error", "missing_values", "out_of_range", "outliers", "feature_swap", "stale_values"]
CATEGORICAL = ["category_typos", "unseen_categories"]


def best_rows_per_s(
    kind: str, values: np.ndarray, ids: np.ndarray, context: object, repeats: int
) -> tuple[float, float]:
    """The best of ``repeats`` full-batch applies, as (rows per CPU-second, rows per wall-second)."""
    perturbation = PERTURBATIONS.get(kind)
    cpu, wall = float("inf"), float("inf")
    for _ in range(repeats):
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        perturbation.apply(values, 3, seed=0, sample_ids=ids, context=context)
        cpu = min(cpu, time.process_time() - cpu_start)
        wall = min(wall, time.perf_counter() - wall_start)
    return len(values) / cpu, len(values) / wall


def main() -> None:
    """Print one line per perturbation and the slowest numeric figure last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    ids = np.arange(args.rows, dtype=np.int64)
    numeric = rng.normal(size=(args.rows, 10))
    names = [f"x{i}" for i in range(10)]
    reference = pd.DataFrame(numeric[:10_000], columns=names)
    numeric_rates = {}
    for kind in NUMERIC:
        context = context_from_frame(reference, names, ["x0", "x1"] if kind == "feature_swap" else None)
        numeric_rates[kind], wall = best_rows_per_s(kind, numeric, ids, context, args.repeats)
        print(f"{kind}: {numeric_rates[kind]:,.0f} rows/cpu-s, {wall:,.0f} rows/wall-s ({args.rows} x 10 float64)")
    levels = np.array(["red", "green", "blue", "yellow", "purple"], dtype=object)
    categorical = levels[rng.integers(0, len(levels), size=(args.rows, 2))]
    cat_reference = pd.DataFrame(categorical[:10_000], columns=["c0", "c1"])
    for kind in CATEGORICAL:
        context = context_from_frame(cat_reference, ["c0", "c1"])
        rate, wall = best_rows_per_s(kind, categorical, ids, context, args.repeats)
        print(f"{kind}: {rate:,.0f} rows/cpu-s, {wall:,.0f} rows/wall-s ({args.rows} x 2 object)")
    print(f"min_numeric_rows_per_s: {min(numeric_rates.values()):.0f}")


if __name__ == "__main__":
    main()
