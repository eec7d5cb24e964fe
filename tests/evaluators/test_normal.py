"""evaluators.normal gives scipy.stats.norm's numbers bit for bit, without importing scipy.stats."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from evaluators.normal import norm_cdf, norm_ppf, norm_sf

ROOT = Path(__file__).resolve().parents[2]


def test_the_normal_functions_equal_scipy_stats_bit_for_bit() -> None:
    x = np.concatenate([np.linspace(-40, 40, 4001), [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 8.5, 38.0]])
    q = np.concatenate([np.linspace(0, 1, 4001), [1e-300, 1e-17, 0.5 + 1e-16, 1 - 1e-16, np.nan, -0.1, 1.1]])
    np.testing.assert_array_equal(norm_cdf(x), stats.norm.cdf(x))
    np.testing.assert_array_equal(norm_sf(x), stats.norm.sf(x))
    np.testing.assert_array_equal(norm_ppf(q), stats.norm.ppf(q))
    for value in (0.975, 0.5, 1e-12):  # the scalars the gates pass: same value, and a float the callers can take
        assert float(norm_ppf(value)) == float(stats.norm.ppf(value))
        assert float(norm_sf(value)) == float(stats.norm.sf(value)) and float(norm_cdf(-value)) == float(stats.norm.cdf(-value))


def test_intervals_gates_and_drift_checks_import_no_scipy_stats() -> None:
    """What every run imports (its registries, intervals and gates) leaves scipy.stats to the checks and tests that use it."""
    code = ("import sys, pipeline, evaluators.statistics, evaluators.gates, evaluators.error_analysis, evaluators.alignment, drift.metric_drift\n"
            "print('scipy.stats' in sys.modules)\nimport drift.checks.ks\nfrom drift.checks.ks import ks_p_value\nimport pandas as pd\n"
            "ks_p_value(pd.Series([1.0, 2.0, 3.0]), pd.Series([2.0, 3.0, 4.0]))\nprint('scipy.stats' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]  # the probe sees scipy.stats once a check that needs it runs
