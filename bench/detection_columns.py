"""Simulation study of the default drift policy's column verdicts: power, false alarms, trivial shifts, joint shifts.

Seeded numpy streams with known truth, judged by the same functions the pipeline
uses (:func:`drift.checks.check_column` + :func:`drift.policy.apply_policy` on
frames, :func:`drift.scale.drift_from_summaries` on million-row summaries, the
``mmd`` joint check). ``bench/detection.py`` imports :func:`column_study` and
prints its figures; it runs in well under a minute on one core.

Figures (all fractions in [0, 1]):

* ``label_power_500``: windows of 500 rows whose label rate moved 0.66 → 0.56 (reference
  5,000 rows) that were flagged, over 200 windows; ``label_power_500_evidently_choice`` is
  the same with Evidently's default method for that size (Jensen–Shannon ≥ 0.1);
* ``label_power_500_mid``: the same for 0.50 → 0.40 (the largest variance);
* ``null_column_false_alarms``: flagged share of column-windows where nothing changed
  (8 columns of 6 types per window, windows of 200 / 500 / 2,000 / 20,000 rows, a fresh
  5,000-row reference each); ``null_group_false_alarms``: share of those windows with any flag;
* ``trivial_flagged_1m``: columns flagged among a 0.005-std and a 0.02-std mean shift and a
  0.003 label-rate change between two 1M-row samples; ``trivial_significant_1m`` how many of
  them the tests alone (corrected p < alpha) would have flagged;
* ``joint_power_500``: windows of 500 rows where two of five N(0, 1) features flip their
  correlation 0.6 → −0.6, flagged by ``mmd``; ``joint_univariate_flags``: flagged share of
  those windows' per-column verdicts (the marginals did not move).

Example:
    >>> import sys; sys.path.insert(0, ".")            # doctest: +SKIP
    >>> from bench.detection_columns import column_study  # doctest: +SKIP
    >>> column_study(0)["label_power_500"] >= 0.9          # doctest: +SKIP
    True
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.checks import DRIFT_CHECKS, check_column, evidently_method
from drift.policy import apply_policy
from drift.scale import drift_from_summaries, make_bins_spec, shard_summary

REFERENCE_ROWS = 5000


def _label(rng: np.random.Generator, n: int, rate: float) -> pd.Series:
    return pd.Series((rng.random(n) < rate).astype(np.int64), name="label")


def label_power(rng: np.random.Generator, before: float, after: float, windows: int = 200, rows: int = 500,
                method: str | None = None) -> float:
    """Share of ``rows``-row windows with the label rate moved ``before`` → ``after`` that were flagged."""
    reference = _label(rng, REFERENCE_ROWS, before)
    return float(np.mean([check_column(reference, _label(rng, rows, after), method, kind="categorical").drifted
                          for _ in range(windows)]))


def null_group(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Eight columns of six types, always from the same distribution."""
    return pd.DataFrame({
        "normal": rng.normal(size=n),
        "skewed": rng.lognormal(size=n),
        "counts": rng.poisson(3.0, n),
        "few": rng.choice([1, 2, 3, 4], n, p=[0.4, 0.3, 0.2, 0.1]),
        "category": rng.choice(list("abcdefg"), n, p=[0.3, 0.2, 0.15, 0.15, 0.1, 0.05, 0.05]),
        "rare": rng.choice(["common", "rare1", "rare2"], n, p=[0.98, 0.015, 0.005]),
        "binary": rng.choice(["yes", "no"], n, p=[0.3, 0.7]),
        "flag": (rng.random(n) < 0.05).astype(np.int64),
    })


def null_false_alarms(rng: np.random.Generator, sizes: dict[int, int]) -> tuple[float, float, int]:
    """(flagged share of column-windows, share of windows with any flag, column-windows) with no change at all."""
    flagged = total = alarms = windows = 0
    for n, count in sizes.items():
        for _ in range(count):
            reference, window = null_group(rng, REFERENCE_ROWS), null_group(rng, n)
            results = apply_policy([check_column(reference[c], window[c]) for c in reference.columns])
            flagged += sum(r.drifted for r in results)
            total += len(results)
            alarms += any(r.drifted for r in results)
            windows += 1
    return flagged / total, alarms / windows, total


def trivial_shifts(rng: np.random.Generator, n: int = 1_000_000) -> tuple[int, int]:
    """(flagged, significant-by-test-alone) among three trivial shifts between two ``n``-row samples."""
    reference = pd.DataFrame({"tiny": rng.normal(size=n), "small": rng.normal(size=n),
                              "label": (rng.random(n) < 0.5).astype(np.int64)})
    current = pd.DataFrame({"tiny": rng.normal(0.005, 1.0, n), "small": rng.normal(0.02, 1.0, n),
                            "label": (rng.random(n) < 0.503).astype(np.int64)})
    cols = list(reference.columns)
    spec = make_bins_spec(reference.iloc[:200_000], cols)
    results = drift_from_summaries(shard_summary(reference, cols, spec), shard_summary(current, cols, spec)).columns
    return sum(r.drifted for r in results), sum(bool(r.p_adjusted is not None and r.p_adjusted < (r.alpha or 0.05)) for r in results)


def _correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    x = rng.normal(size=(n, 5))
    x[:, :2] = rng.multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]], n)
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(5)])


def joint_shift(rng: np.random.Generator, windows: int = 20) -> tuple[float, float]:
    """(``mmd`` power, per-column flag rate) on windows whose only change is a correlation flip."""
    reference = _correlated(rng, REFERENCE_ROWS, 0.6)
    joint, columns = [], []
    for _ in range(windows):
        window = _correlated(rng, 500, -0.6)
        joint.append(DRIFT_CHECKS.get("mmd")(reference, window).drifted)
        columns += [r.drifted for r in apply_policy([check_column(reference[c], window[c]) for c in reference.columns])]
    return float(np.mean(joint)), float(np.mean(columns))


def column_study(seed: int = 0) -> dict[str, float]:
    """Run the whole study with one seed and return its figures (see the module docstring)."""
    rng = np.random.default_rng(seed)
    js = evidently_method("categorical", REFERENCE_ROWS, 2)
    null_columns, null_groups, null_count = null_false_alarms(rng, {200: 40, 500: 40, 2000: 40, 20000: 10})
    trivial_flagged, trivial_significant = trivial_shifts(rng)
    joint_power, joint_univariate = joint_shift(rng)
    return {
        "label_power_500": label_power(rng, 0.66, 0.56),
        "label_power_500_mid": label_power(rng, 0.50, 0.40),
        "label_power_500_evidently_choice": label_power(rng, 0.66, 0.56, method=js),
        "null_column_false_alarms": null_columns,
        "null_group_false_alarms": null_groups,
        "null_column_windows": float(null_count),
        "trivial_flagged_1m": float(trivial_flagged),
        "trivial_significant_1m": float(trivial_significant),
        "joint_power_500": joint_power,
        "joint_univariate_flags": joint_univariate,
    }
