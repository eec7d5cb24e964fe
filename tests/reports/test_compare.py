"""compare_runs matches rows on what was measured, never across metric versions."""

from __future__ import annotations

import pandas as pd
import pytest

from reports import compare_runs
from tests.reports.sample import results


def test_differences_are_b_minus_a_and_sorted_by_size() -> None:
    a = results(seed=1)
    b = a.copy()
    b.loc[(b["metric"] == "accuracy") & (b["slice"] == "label=2") & (b["model"] == "mlp-v2") & (b["variant"] == "clean"),
          ["value", "ci_low", "ci_high"]] += 0.2
    diff = compare_runs(a, b)
    assert len(diff) == len(a) and set(diff["presence"]) == {"both"}
    top = diff.iloc[0]
    assert (top["slice"], top["metric"], top["model"]) == ("label=2", "accuracy", "mlp-v2")
    assert top["diff"] == pytest.approx(0.2) and not top["ci_overlap"]
    assert (diff["diff"].iloc[1:] == 0).all() and diff["ci_overlap"].iloc[1:].all()


def test_a_new_metric_version_is_not_compared_with_the_old() -> None:
    a = results()
    b = a.copy()
    b.loc[b["metric"] == "log_loss", "metric_version"] = "2"
    diff = compare_runs(a, b)
    log_loss = diff[diff["metric"] == "log_loss"]
    assert set(log_loss["presence"]) == {"only_a", "only_b"} and log_loss["diff"].isna().all()
    assert not log_loss["ci_overlap"].any()
    only_b = log_loss[log_loss["presence"] == "only_b"]
    assert (only_b["metric_version"] == "2").all() and only_b["value_a"].isna().all()


def test_rows_missing_from_one_run_are_kept() -> None:
    a = results()
    b = a[a["model"] == "mlp-v2"]
    diff = compare_runs(a, b)
    assert (diff.loc[diff["model"] == "mlp-v1", "presence"] == "only_a").all()
    assert isinstance(diff, pd.DataFrame) and diff["value_b"].notna().sum() == len(b)
