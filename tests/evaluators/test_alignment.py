"""Proxy/downstream alignment against scipy's Spearman and hand-flagged versions."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats

from evaluators.alignment import VersionRecord, proxy_alignment


def test_loss_proxy_aligned_with_accuracy_has_positive_rho() -> None:
    records = [VersionRecord(f"v{i}", loss, acc) for i, (loss, acc) in
               enumerate([(0.9, 0.70), (0.8, 0.74), (0.6, 0.80), (0.5, 0.83)])]
    result = proxy_alignment(records, proxy_higher_is_better=False, downstream_higher_is_better=True)
    assert result.spearman == pytest.approx(1.0) and result.n == 4
    assert result.misaligned_versions == []


def test_flags_versions_where_proxy_improves_but_downstream_worsens() -> None:
    frame = pd.DataFrame({
        "version": ["a", "b", "c", "d", "e"],
        "proxy": [1.0, 0.8, 0.7, 0.75, 0.5],  # validation loss
        "downstream": [0.10, 0.08, 0.09, 0.07, 0.12],  # error rate: lower is better
    })
    result = proxy_alignment(frame, proxy_higher_is_better=False, downstream_higher_is_better=False)
    # c: loss 0.8→0.7 better, error 0.08→0.09 worse. e: loss better, error 0.07→0.12 worse.
    assert result.misaligned_versions == ["c", "e"]
    ref = stats.spearmanr(-frame["proxy"], -frame["downstream"])
    assert result.spearman == pytest.approx(ref.statistic) and result.p_value == pytest.approx(ref.pvalue)
    assert math.isnan(result.versions.loc[0, "proxy_change"])


def test_tolerance_ignores_noise_and_short_histories_have_no_rho() -> None:
    frame = pd.DataFrame({"version": ["a", "b"], "proxy": [0.5, 0.49], "downstream": [0.9, 0.899]})
    strict = proxy_alignment(frame, proxy_higher_is_better=False, downstream_higher_is_better=True)
    lenient = proxy_alignment(frame, proxy_higher_is_better=False, downstream_higher_is_better=True, tolerance=0.005)
    assert strict.misaligned_versions == ["b"] and lenient.misaligned_versions == []
    assert math.isnan(strict.spearman)
