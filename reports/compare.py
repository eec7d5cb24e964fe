"""Compare two runs' results row by row (for ``vigil compare``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEY = ["dataset", "model", "variant", "slice", "metric", "metric_version"]


def compare_runs(results_a: pd.DataFrame, results_b: pd.DataFrame) -> pd.DataFrame:
    """Differences between two runs' results, matched on what was measured.

    Rows match on dataset, model, variant, slice, metric and metric version, so
    a metric whose version changed is never compared across versions: its
    rows appear as ``only_a`` and ``only_b``.

    Args:
        results_a: Long-format results of the earlier run.
        results_b: Long-format results of the later run.

    Returns:
        One row per key with ``value_a, ci_low_a, ci_high_a, n_a``, the same for b,
        ``diff`` (b − a), ``ci_overlap`` (the two CIs overlap) and ``presence``
        (``both``, ``only_a`` or ``only_b``), sorted by ``|diff|`` descending then key.
    """
    columns = ["value", "ci_low", "ci_high", "n"]
    a = results_a[[*KEY, *columns]].drop_duplicates(KEY)
    b = results_b[[*KEY, *columns]].drop_duplicates(KEY)
    merged = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    merged["presence"] = merged.pop("_merge").map({"both": "both", "left_only": "only_a", "right_only": "only_b"})
    merged["diff"] = merged["value_b"] - merged["value_a"]
    merged["ci_overlap"] = np.where(
        merged["presence"] == "both",
        (merged["ci_low_a"] <= merged["ci_high_b"]) & (merged["ci_low_b"] <= merged["ci_high_a"]),
        False,
    )
    merged["_abs"] = merged["diff"].abs()
    merged = merged.sort_values(["_abs", *KEY], ascending=[False, *[True] * len(KEY)], na_position="last")
    return merged.drop(columns="_abs").reset_index(drop=True)
