"""What moved in a drift window, and the name of the pattern.

Per window, beside the per-column data drift, four signals are compared with the reference:

* **labels** — class rates (Wilson intervals), tested together with a chi-square test of the
  window's class counts against the reference's (two classes: the two-proportion z-test);
  regression: a two-sample Kolmogorov–Smirnov test of the label values;
* **predictions** — per model, predicted-class rates (same test); regression: KS of the predicted
  values. The distribution of the top score is tested (KS) and reported too, but names no pattern:
  a model is more confident on the data it was trained on than on any new data;
* **realised accuracy** (labelled rows) with a Wilson interval, against the reference's
  accuracy (two-proportion z-test at both sizes) and against the label-free estimate;
* **estimated accuracy** (label-free, from the summary rows) when the window has no labels.

A signal *moves* when its test's p-value is below ``drift.signal_alpha`` (0.001 by default: every
window is tested several times, so only strong evidence names a pattern). The pattern:

* ``covariate drift`` — the data (features) drifted (share of drifted columns ≥ ``share_threshold``);
* ``covariate+concept`` — features drifted, and some model's realised accuracy moved against the
  reference's by more than its label-free estimate explains (significant against both): a covariate
  shift alone moves labels and accuracy too, as far as the model's scores foresee;
* ``concept drift`` — features did not drift, but the labels moved; or the outputs did not move
  either, and some model's realised accuracy moved against the reference's (and, when scores exist,
  against its estimate too — so a reference the model was trained on, where it is near perfect,
  does not cry concept drift);
* ``prediction drift`` — features and labels did not move, some model's outputs did (a changed
  model or upstream; its accuracy may have moved with them);
* ``none``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from drift.checks.z import two_proportion_p_value
from evaluators.shadow.paired import wilson_interval
from suite.base import Frozen

NONE, COVARIATE, CONCEPT, PREDICTION, BOTH = "none", "covariate drift", "concept drift", "prediction drift", "covariate+concept"
PATTERNS = (NONE, COVARIATE, CONCEPT, PREDICTION, BOTH)


class RateShift(Frozen):
    """Class rates of the window against the reference's, tested together.

    ``moved`` is ``p_value < alpha``; ``headline`` is the class shown in tables (class 1 of two,
    else the class whose rate moved most).
    """

    classes: list[str]
    rates: list[float]
    low: list[float]
    high: list[float]
    reference: list[float]
    n: int
    n_reference: int
    p_value: float
    test: str
    moved: bool
    headline: int


class Shift(Frozen):
    """A distribution test (regression labels, scores, predicted values): KS p-value and verdict."""

    statistic: float
    p_value: float
    test: str = "ks"
    moved: bool


class MetricSignal(Frozen):
    """A model's accuracy in the window: realised (labelled rows) or estimated (label-free)."""

    metric: str
    kind: str
    value: float
    low: float
    high: float
    n: int
    reference: float | None = None
    n_reference: int | None = None
    p_value: float | None = None
    p_value_vs_estimate: float | None = None
    moved: bool = False


class ModelSignals(Frozen):
    """One model's output shift and accuracy in the window."""

    model: str
    predictions: RateShift | None = None
    scores: Shift | None = None
    output_drift_share: float | None = None
    moved: bool = False
    realised: MetricSignal | None = None
    estimated: MetricSignal | None = None


class WindowSignals(Frozen):
    """Everything that moved in one window, and the pattern it names."""

    pattern: str
    alpha: float
    data_columns: int
    data_drifted_columns: int
    data_share_drifted: float
    data_drifted: bool
    labels: RateShift | Shift | None = None
    models: list[ModelSignals] = []


def rate_shift(window: np.ndarray, reference: np.ndarray, classes: Sequence[object], alpha: float, confidence: float) -> RateShift | None:
    """Class rates of ``window`` (class indices) against ``reference``'s; None when either is empty."""
    k = len(classes)
    if len(window) == 0 or len(reference) == 0:
        return None
    cur = np.bincount(window, minlength=k)[:k]
    ref = np.bincount(reference, minlength=k)[:k]
    seen = (cur + ref) > 0
    if seen.sum() < 2:
        p_value = 1.0
    else:
        p_value = float(stats.chi2_contingency(np.vstack([cur[seen], ref[seen]]), correction=False)[1])
    bounds = [wilson_interval(int(c), len(window), confidence) for c in cur]
    rates, ref_rates = cur / len(window), ref / len(reference)
    headline = 1 if k == 2 else int(np.argmax(np.abs(rates - ref_rates)))
    return RateShift(
        classes=[str(c) for c in classes], rates=rates.tolist(), low=[b[0] for b in bounds], high=[b[1] for b in bounds],
        reference=ref_rates.tolist(), n=len(window), n_reference=len(reference), p_value=p_value,
        test="two-proportion z" if seen.sum() == 2 else "chi-square", moved=p_value < alpha, headline=headline,
    )


def ks_shift(window: np.ndarray, reference: np.ndarray, alpha: float) -> Shift | None:
    """Two-sample KS of two samples of values; None when either is empty."""
    if len(window) == 0 or len(reference) == 0:
        return None
    result = stats.ks_2samp(window, reference)
    return Shift(statistic=float(result.statistic), p_value=float(result.pvalue), moved=float(result.pvalue) < alpha)


def accuracy_signals(
    y: np.ndarray, pred: np.ndarray, ref_correct: np.ndarray | None, estimate: Mapping[str, float] | None,
    alpha: float, confidence: float,
) -> tuple[MetricSignal | None, MetricSignal | None]:
    """Realised accuracy on labelled rows (``y >= 0``) and the estimate, each against the reference's accuracy."""
    estimated = None
    if estimate is not None:
        estimated = MetricSignal(metric="accuracy", kind="estimated", value=estimate["value"], low=estimate["ci_low"],
                                 high=estimate["ci_high"], n=int(estimate["n"]))
        if ref_correct is not None and len(ref_correct):
            estimated = estimated.model_copy(update={"reference": float(ref_correct.mean()), "n_reference": len(ref_correct)})
    labelled = y >= 0
    if not labelled.any():
        return None, estimated
    correct = pred[labelled] == y[labelled]
    k, n = int(correct.sum()), int(labelled.sum())
    low, high = wilson_interval(k, n, confidence)
    realised = MetricSignal(metric="accuracy", kind="realised", value=k / n, low=low, high=high, n=n)
    moved = False  # without a labelled reference there is nothing to move against
    if ref_correct is not None and len(ref_correct):
        p = two_proportion_p_value(k / n, n, float(ref_correct.mean()), len(ref_correct))
        realised = realised.model_copy(update={"reference": float(ref_correct.mean()), "n_reference": len(ref_correct), "p_value": p})
        moved = p < alpha
    if estimated is not None:  # the estimate's interval is one for the realised value: its sd is the test's
        sd = max((estimated.high - estimated.low) / (2 * stats.norm.ppf(0.5 + confidence / 2)), 1e-9)
        p_est = float(2 * stats.norm.sf(abs(k / n - estimated.value) / sd))
        realised = realised.model_copy(update={"p_value_vs_estimate": p_est})
        moved = moved and p_est < alpha
    return realised.model_copy(update={"moved": moved}), estimated


def name_pattern(data_drifted: bool, labels: RateShift | Shift | None, models: Sequence[ModelSignals], alpha: float) -> str:
    """The pattern of a window from its signals (see the module docstring)."""
    if data_drifted:
        return BOTH if any(m.realised is not None and m.realised.moved for m in models) else COVARIATE
    if labels is not None and labels.moved:
        return CONCEPT
    if any(m.moved for m in models):
        return PREDICTION
    if any(m.realised is not None and m.realised.moved for m in models):
        return CONCEPT
    return NONE


def data_signal(table: pd.DataFrame) -> tuple[int, int, float, bool]:
    """``(columns, drifted columns, share, drifted)`` of the window's data (feature) rows."""
    data = table[table["kind"] == "data"]
    if data.empty:
        return 0, 0, 0.0, False
    return len(data), int(data["drifted"].astype(bool).sum()), float(data["share_drifted"].iloc[0]), bool(data["dataset_drifted"].iloc[0])


def output_share(table: pd.DataFrame, model: str) -> float | None:
    """The share of a model's drifted output columns in the drift table, if it was compared."""
    rows = table[(table["kind"] == "prediction") & (table["model"] == model)]
    return float(rows["share_drifted"].iloc[0]) if len(rows) else None


def window_signals(
    table: pd.DataFrame, estimates: Mapping[str, Mapping[str, float]], *, task: str, classes: Sequence[object] | None,
    y: np.ndarray | None, preds: Mapping[str, pd.DataFrame], ref_y: np.ndarray | None, ref_preds: Mapping[str, pd.DataFrame],
    alpha: float, confidence: float,
) -> WindowSignals:
    """All signals of one window and its pattern.

    Args:
        table: The window's drift rows (``drift.parquet``).
        estimates: Model -> the ``accuracy_estimated`` summary row (``value, ci_low, ci_high, n``).
        task: ``classification`` or ``regression``.
        classes: The class list (classification).
        y: The window's labels: class indices with -1 where missing (classification) or floats with NaN; None: no labels.
            Only labelled rows count, here and in the reference.
        preds: Model -> the window's outputs (``y_pred``, ``score_<k>``), row-aligned with ``y``.
        ref_y: The reference's labels (same encoding, row-aligned with ``ref_preds``), or None.
        ref_preds: Model -> the reference's outputs.
        alpha: ``drift.signal_alpha``.
        confidence: Interval coverage.
    """
    columns, drifted_columns, share, drifted = data_signal(table)
    classify = task == "classification" and classes is not None
    labels: RateShift | Shift | None = None
    if y is not None and ref_y is not None:
        labels = (rate_shift(y[y >= 0], ref_y[ref_y >= 0], classes, alpha, confidence) if classify  # type: ignore[arg-type]
                  else ks_shift(y[~np.isnan(y)], ref_y[~np.isnan(ref_y)], alpha))
    models = []
    for name, frame in preds.items():
        ref = ref_preds.get(name)
        pred = frame["y_pred"].to_numpy()
        signal = ModelSignals(model=name, output_drift_share=output_share(table, name))
        if classify:
            pred = np.nan_to_num(pred.astype(np.float64), nan=-1).astype(np.int64)
            shift = rate_shift(pred[pred >= 0], ref["y_pred"].to_numpy(np.int64), classes, alpha, confidence) if ref is not None else None  # type: ignore[arg-type]
            top = _top_score(frame)
            scores = ks_shift(top, _top_score(ref), alpha) if ref is not None and top is not None else None
            ref_correct = None
            if ref is not None and ref_y is not None:
                ref_correct = (ref["y_pred"].to_numpy(np.int64) == ref_y)[ref_y >= 0]
            window_y = y if y is not None else np.full(len(pred), -1)
            realised, estimated = accuracy_signals(window_y, pred, ref_correct, estimates.get(name), alpha, confidence)
            signal = signal.model_copy(update={"predictions": shift, "scores": scores, "realised": realised, "estimated": estimated,
                                               "moved": bool(shift and shift.moved)})
        elif ref is not None:
            scores = ks_shift(pred[~np.isnan(pred)], ref["y_pred"].to_numpy(np.float64), alpha)
            signal = signal.model_copy(update={"scores": scores, "moved": bool(scores and scores.moved)})
        models.append(signal)
    return WindowSignals(
        pattern=name_pattern(drifted, labels, models, alpha), alpha=alpha, data_columns=columns,
        data_drifted_columns=drifted_columns, data_share_drifted=share, data_drifted=drifted, labels=labels, models=models,
    )


def _top_score(frame: pd.DataFrame | None) -> np.ndarray | None:
    if frame is None:
        return None
    cols = [c for c in frame.columns if c.startswith("score_")]
    if not cols:
        return None
    scores = frame[cols].to_numpy(np.float64)
    top = np.nanmax(scores, axis=1) / np.nansum(scores, axis=1)
    return top[~np.isnan(top)]


def pattern_kinds(signals: WindowSignals) -> list[tuple[str, str, list[str], float]]:
    """What a window's pattern adds to its data-drift alerts: ``(kind, model, what moved, magnitude)``.

    ``concept`` for concept drift (and the concept part of covariate+concept): what moved is
    ``labels`` and/or ``accuracy:<model>``, the magnitude the largest absolute change of a class rate
    or an accuracy against the reference's; ``prediction`` per model whose predicted classes moved
    (magnitude: the largest change of a predicted-class rate). Empty for ``none`` and ``covariate drift``,
    which the data-drift alerts already cover.
    """
    found: list[tuple[str, str, list[str], float]] = []
    if signals.pattern in (CONCEPT, BOTH):
        moved, size = [], 0.0
        if signals.labels is not None and signals.labels.moved and isinstance(signals.labels, RateShift) and signals.pattern == CONCEPT:
            moved.append("labels")
            size = max(size, max(abs(r - q) for r, q in zip(signals.labels.rates, signals.labels.reference)))
        for m in signals.models:
            if m.realised is not None and m.realised.moved and m.realised.reference is not None:
                moved.append(f"accuracy:{m.model}")
                size = max(size, abs(m.realised.value - m.realised.reference))
        found.append(("concept", "", moved, size))
    if signals.pattern == PREDICTION:
        for m in signals.models:
            if m.moved and m.predictions is not None:
                size = max(abs(r - q) for r, q in zip(m.predictions.rates, m.predictions.reference))
                found.append(("prediction", m.model, ["y_pred"], size))
    return found
