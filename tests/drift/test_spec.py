"""Drift suite sections validate at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from suite.sections import DriftSpec, MetricDriftSpec


def test_defaults_and_overrides():
    spec = DriftSpec(reference="train", methods={"age": "psi"}, thresholds={"age": 0.2}, window="6h")
    assert spec.mode == "auto" and spec.share_threshold == 0.5 and spec.methods == {"age": "psi"}
    assert MetricDriftSpec().reference == 10 and MetricDriftSpec().cusum_h == 6.0


def test_unknown_method_names_the_nearest():
    with pytest.raises(ValidationError, match="did you mean 'wasserstein'"):
        DriftSpec(reference="train", methods={"age": "wasserstien"})


def test_bad_window_and_unknown_keys_are_refused():
    with pytest.raises(ValidationError, match="expected a fixed span"):
        DriftSpec(reference="train", window="daily")
    with pytest.raises(ValidationError):
        DriftSpec(reference="train", treshold=0.1)
