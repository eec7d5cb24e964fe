"""The default policy's pieces: p-value corrections against statsmodels, and how a comparison applies them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from statsmodels.stats.multitest import multipletests

from drift.policy import adjust_p_values, default_check_name
from suite.sections import DriftSpec
from pipeline.evaluate.drift import DRIFT_COLUMNS, compare, drift_rows


@pytest.mark.parametrize(("ours", "theirs"), [("bh", "fdr_bh"), ("holm", "holm")])
def test_corrections_match_statsmodels(ours, theirs):
    p = np.random.default_rng(0).uniform(0, 0.2, 40) ** 2
    np.testing.assert_allclose(adjust_p_values(p, ours), multipletests(p, method=theirs)[1])
    np.testing.assert_array_equal(adjust_p_values(p, "none"), p)


def test_default_check_follows_what_the_column_holds():
    assert [default_check_name("numerical", n) for n in (2, 5, 6)] == ["z", "chi_square_homogeneity", "ks"]
    assert [default_check_name("categorical", n) for n in (1, 2, 40)] == ["z", "z", "chi_square_homogeneity"]


def _frames(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def side(shift: float, rate: float, size: int) -> pd.DataFrame:
        frame = pd.DataFrame({f"x{i}": rng.normal(shift if i == 0 else 0.0, 1.0, size) for i in range(4)})
        frame["prediction:m:y_pred"] = (rng.random(size) < rate).astype(np.int64)
        frame["target:label"] = (rng.random(size) < rate).astype(np.int64)
        return frame

    return side(0.0, 0.66, 3 * n), side(0.5, 0.54, n)


def test_a_comparison_corrects_each_group_apart_and_stores_every_field():
    reference, current = _frames(500, seed=1)
    spec = DriftSpec(reference="r", html=False)
    comparison = compare(reference, current, spec, "classification", None)
    table = drift_rows(comparison, spec.share_threshold, run_id="r1", suite="s", dataset="d")
    assert list(table.columns) == DRIFT_COLUMNS
    rows = table.set_index(["kind", "column"])
    assert rows.loc[("data", "x0"), "drifted"] and not rows.loc[("data", "x1"), "drifted"]
    assert rows.loc[("target", "label"), "method"] == "z" and rows.loc[("target", "label"), "drifted"]
    assert rows.loc[("prediction", "y_pred"), "effect_name"] == "cohens_h"
    data = table[table["kind"] == "data"]
    np.testing.assert_allclose(data["p_adjusted"], adjust_p_values(data["p_value"].to_numpy(), "bh"))
    # The single-column groups are corrected alone: their adjusted p-value is the raw one.
    single = table[table["kind"].isin(["target", "prediction"])]
    np.testing.assert_allclose(single["p_adjusted"], single["p_value"])
    joint = rows.loc[("multivariate", "<joint>")]
    assert joint["method"] == "mmd" and joint["n_current"] == 500
    assert set(table["engine"]) == {"checks"}


def test_a_named_method_keeps_its_threshold_and_engine_and_floors_and_alpha_reach_the_verdict():
    reference, current = _frames(500, seed=2)
    spec = DriftSpec(reference="r", html=False, multivariate=False, methods={"x0": "wasserstein", "x1": "chi_square_homogeneity"},
                     thresholds={"x0": 5.0, "x2": 0.5}, effect_floors={"label": 0.9}, alpha=0.01, correction="holm")
    rows = drift_rows(compare(reference, current, spec, "classification", None), 0.5).set_index(["kind", "column"])
    x0 = rows.loc[("data", "x0")]
    assert (x0["method"], x0["engine"], x0["threshold"], bool(x0["drifted"])) == ("wasserstein", "evidently", 5.0, False)
    assert x0["correction"] is None and pd.isna(x0["p_adjusted"]) and pd.isna(x0["alpha"])
    assert rows.loc[("data", "x1"), "method"] == "chi_square_homogeneity" and rows.loc[("data", "x1"), "engine"] == "checks"
    # A threshold without a method keeps the method it was written for: Evidently's choice (1,500 reference rows).
    x2 = rows.loc[("data", "x2")]
    assert (x2["method"], x2["threshold"], x2["engine"], bool(x2["drifted"])) == ("wasserstein", 0.5, "evidently", False)
    label = rows.loc[("target", "label")]
    assert label["p_value"] < 0.01 and label["effect_floor"] == 0.9 and not label["drifted"]
    assert set(rows["correction"].dropna()) == {"holm"} and set(rows["alpha"].dropna()) == {0.01}
    assert "multivariate" not in rows.index.get_level_values("kind")


def test_a_threshold_alone_keeps_evidentlys_method_in_both_engines():
    from drift.checks import check_column
    from drift.scale import drift_from_summaries, make_bins_spec, shard_summary

    reference, current = _frames(500, seed=3)
    spec = make_bins_spec(reference, ["x0"])
    summary = drift_from_summaries(shard_summary(reference, ["x0"], spec), shard_summary(current, ["x0"], spec),
                                   per_column_threshold={"x0": 0.3}).columns[0]
    frame = check_column(reference["x0"], current["x0"], threshold=0.3)
    assert (summary.method, summary.threshold) == (frame.method, frame.threshold) == ("wasserstein", 0.3)
    assert summary.drifted == frame.drifted and summary.correction is None


def test_spec_options_validate():
    spec = DriftSpec(reference="r")
    assert (spec.alpha, spec.correction, spec.effect_floors, spec.multivariate) == (0.05, "bh", {}, True)
    with pytest.raises(ValidationError, match="multivariate check 'mmd'"):
        DriftSpec(reference="r", methods={"x": "mmd"})
    with pytest.raises(ValidationError):
        DriftSpec(reference="r", correction="bonferroni")
    with pytest.raises(ValidationError, match="effect floors >= 0"):
        DriftSpec(reference="r", effect_floors={"x": -0.1})
    with pytest.raises(ValidationError):
        DriftSpec(reference="r", alpha=1.5)
