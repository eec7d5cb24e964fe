"""Windows by rows, calendar periods and fixed spans; the reference as part of the stream; the pattern rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from drift.windows import cut_windows
from pipeline.drift_watch.signals import (
    BOTH, CONCEPT, COVARIATE, NONE, PREDICTION, MetricSignal, ModelSignals, Shift, name_pattern, rate_shift,
)
from pipeline.drift_watch.streams import reference_mask, stream_datasets
from pipeline.drift_watch.windows import window_run_id, watch_windows
from suite.load import parse_suite
from suite.sections import WindowSpec
from suite.settings import load_settings
from tests.drift.wiring_data import write_suite


def pooled_z_p(k1: int, n1: int, k2: int, n2: int) -> float:
    """The pooled two-proportion z-test, written out here as the reference."""
    pooled = (k1 + k2) / (n1 + n2)
    z = (k1 / n1 - k2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * stats.norm.sf(abs(z)))


def _hourly(start: str, end: str, tz: str | None = None) -> pd.DataFrame:
    ts = pd.date_range(start, end, freq="h", inclusive="left", tz=tz)
    return pd.DataFrame({"ts": ts, "x": np.arange(len(ts), dtype=float)})


def test_row_windows_keep_positions_need_no_timestamp_and_end_with_the_rest():
    frame = pd.DataFrame({"x": np.arange(1250.0)}).iloc[200:]  # rows 0..199 are the reference part
    cuts = list(cut_windows(frame, None, WindowSpec(rows=500)))
    assert [(c.first_row, c.end_row, len(c.rows)) for c in cuts] == [(200, 700, 500), (700, 1200, 500), (1200, 1250, 50)]
    assert all(c.start is None for c in cuts) and cuts[0].label == "rows 200-700"
    assert window_run_id("s", "stream", cuts[1]) == "s-drift-stream-rows-000700-001200"
    assert cuts[1].rows["x"].iloc[0] == 700.0


@pytest.mark.parametrize("window", ["week", "1W", "W-SUN"])
def test_week_windows_are_monday_to_sunday_across_a_month_end(window: str):
    frame = _hourly("2026-01-24", "2026-02-10")  # Saturday 24 Jan .. Monday 9 Feb
    cuts = list(cut_windows(frame, "ts", window))
    assert [(str(c.start.date()), str(c.end.date())) for c in cuts] == [
        ("2026-01-19", "2026-01-26"), ("2026-01-26", "2026-02-02"), ("2026-02-02", "2026-02-09"), ("2026-02-09", "2026-02-16")]
    assert [len(c.rows) for c in cuts] == [48, 7 * 24, 7 * 24, 24]
    assert sum(len(c.rows) for c in cuts) == len(frame)


@pytest.mark.parametrize("window", ["month", "1ME", "1MS"])
def test_month_windows_follow_the_calendar_not_the_epoch(window: str):
    frame = _hourly("2026-01-30", "2026-03-02", tz="Europe/Paris")
    cuts = list(cut_windows(frame, "ts", window))
    assert [(c.start.isoformat(), c.end.isoformat()) for c in cuts] == [
        ("2026-01-01T00:00:00+01:00", "2026-02-01T00:00:00+01:00"),
        ("2026-02-01T00:00:00+01:00", "2026-03-01T00:00:00+01:00"),
        ("2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00"),
    ]
    assert [len(c.rows) for c in cuts] == [48, 28 * 24, 24]
    for cut in cuts:
        assert cut.rows["ts"].min() >= cut.start and cut.rows["ts"].max() < cut.end


def test_fixed_spans_stay_aligned_to_the_epoch():
    frame = _hourly("2026-01-01 03:00", "2026-01-02 03:00")
    cuts = list(cut_windows(frame, "ts", "6h"))
    assert [c.label for c in cuts] == ["2026-01-01 00:00", "2026-01-01 06:00", "2026-01-01 12:00", "2026-01-01 18:00", "2026-01-02 00:00"]
    assert [len(c.rows) for c in cuts] == [3, 6, 6, 6, 3]


def _suite(drift: dict, timestamp: str | None = "ts") -> object:
    doc = {
        "name": "s", "task": "classification",
        "datasets": [{"name": "log", "path": "log.parquet", "label": "y", "use": "reference", "timestamp": timestamp, "prediction": "p"},
                     {"name": "other", "path": "o.parquet", "use": "reference", "timestamp": "ts"}],
        "drift": {"reference": "log", **drift},
    }
    return parse_suite(doc, "s.yaml", Path("."))


def test_a_reference_range_of_the_stream_is_left_out_of_its_windows():
    frame = _hourly("2026-01-01", "2026-01-05")
    by_time = _suite({"reference_range": {"start": "2026-01-01", "end": "2026-01-02T06:00"}})
    keep = reference_mask(by_time, by_time.datasets[0], frame)
    assert keep.sum() == 30 and keep[:30].all()
    assert stream_datasets(by_time) == ["log", "other"]  # the reference's own remaining rows are a stream
    rest = list(cut_windows(frame[~keep], "ts", "1D"))
    assert [(c.label, len(c.rows)) for c in rest] == [("2026-01-02", 18), ("2026-01-03", 24), ("2026-01-04", 24)]
    by_rows = _suite({"reference_rows": [10, 20]})
    assert np.flatnonzero(reference_mask(by_rows, by_rows.datasets[0], frame)).tolist() == list(range(10, 20))
    assert stream_datasets(_suite({})) == ["other"]  # the whole dataset is the reference: not watched


def test_the_reference_range_needs_rows_and_a_timestamp():
    from suite.errors import DataError

    frame = _hourly("2026-01-01", "2026-01-02")
    empty = _suite({"reference_range": {"start": "2027-01-01"}})
    with pytest.raises(DataError, match="drift.reference_range: no row of log falls in"):
        reference_mask(empty, empty.datasets[0], frame)
    no_time = _suite({"reference_range": {"end": "2026-01-01T12:00"}}, timestamp=None)
    with pytest.raises(DataError, match="drift.reference_range: dataset log has no timestamp column"):
        reference_mask(no_time, no_time.datasets[0], frame)


def test_class_rate_test_is_the_two_proportion_z_for_two_classes():
    rng = np.random.default_rng(0)
    window, reference = (rng.random(500) < 0.54).astype(int), (rng.random(2000) < 0.66).astype(int)
    shift = rate_shift(window, reference, [0, 1], alpha=0.001, confidence=0.95)
    assert shift.p_value == pytest.approx(pooled_z_p(window.sum(), 500, reference.sum(), 2000))
    assert shift.moved and shift.headline == 1 and shift.low[1] < window.mean() < shift.high[1]
    table = np.array([[500 - window.sum(), window.sum()], [2000 - reference.sum(), reference.sum()]])
    assert shift.p_value == pytest.approx(stats.chi2_contingency(table, correction=False)[1])


def _model(moved: bool = False, realised_moved: bool = False) -> ModelSignals:
    realised = MetricSignal(metric="accuracy", kind="realised", value=0.8, low=0.7, high=0.9, n=100, moved=realised_moved)
    return ModelSignals(model="m", moved=moved, realised=realised)


@pytest.mark.parametrize(("data", "labels", "model", "pattern"), [
    (False, False, _model(), NONE),
    (True, True, _model(), COVARIATE),  # a covariate shift moves the label rate too
    (True, False, _model(realised_moved=True), BOTH),
    (False, True, _model(), CONCEPT),
    (False, False, _model(realised_moved=True), CONCEPT),
    (False, False, _model(moved=True, realised_moved=True), PREDICTION),  # a changed model, not a changed world
    (False, True, _model(moved=True), CONCEPT),
])
def test_pattern_rules(data: bool, labels: bool, model: ModelSignals, pattern: str):
    shift = Shift(statistic=0.0, p_value=0.0 if labels else 1.0, moved=labels)
    assert name_pattern(data, shift, [model], 0.001) == pattern


def test_calendar_week_windows_end_to_end_are_runs_named_by_their_week(tmp_path: Path, vigil_home: Path) -> None:
    suite = write_suite(tmp_path / "synth", window="1W")  # four days from Friday 1 May 2026
    outcomes = watch_windows(str(suite), load_settings())
    assert [(str(o.window_start.date()), str(o.window_end.date()), o.rows) for o in outcomes] == [
        ("2026-04-27", "2026-05-04", 3 * 400), ("2026-05-04", "2026-05-11", 400)]
    assert outcomes[0].run_id == "synth-drift-stream-20260427T000000-20260504T000000"


def test_signals_count_labelled_rows_only_on_both_sides():
    from pipeline.drift_watch.signals import window_signals

    rng = np.random.default_rng(5)
    ref_pred, ref_y = rng.integers(0, 2, 400), rng.integers(0, 2, 400)
    ref_y[:100] = -1  # labels not yet in for a quarter of the reference
    pred, y = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    y[150:] = -1
    table = pd.DataFrame({"kind": ["data", "data"], "model": ["", ""], "column": ["a", "b"], "drifted": [True, False],
                          "share_drifted": [0.5, 0.5], "dataset_drifted": [False, False]})
    signals = window_signals(
        table, {}, task="classification", classes=[0, 1], y=y, preds={"m": pd.DataFrame({"y_pred": pred})},
        ref_y=ref_y, ref_preds={"m": pd.DataFrame({"y_pred": ref_pred})}, alpha=0.001, confidence=0.95,
    )
    assert (signals.data_columns, signals.data_drifted_columns, signals.data_drifted) == (2, 1, False)
    assert signals.labels.n == 150 and signals.labels.n_reference == 300
    assert signals.labels.rates[1] == pytest.approx(y[:150].mean())
    realised = signals.models[0].realised
    assert realised.n == 150 and realised.value == pytest.approx(np.mean(pred[:150] == y[:150]))
    assert realised.reference == pytest.approx(np.mean(ref_pred[100:] == ref_y[100:]))
    assert realised.p_value == pytest.approx(pooled_z_p(int((pred[:150] == y[:150]).sum()), 150,
                                                              int((ref_pred[100:] == ref_y[100:]).sum()), 300))
    assert signals.pattern == NONE and signals.models[0].estimated is None


def test_new_keys_at_their_defaults_leave_the_fingerprint_alone():
    plain = _suite({"window": "1D"})
    dumped = plain.model_dump(mode="json")
    assert not {"reference_rows", "reference_range", "signal_alpha"} & set(dumped["drift"])
    assert not {"scores", "score_prefix"} & set(dumped["datasets"][0]) and "prediction" not in dumped["datasets"][1]
    assert _suite({"window": "1D", "signal_alpha": 0.01}).fingerprint() != plain.fingerprint()


def test_pattern_kinds_say_what_moved_and_by_how_much():
    from pipeline.drift_watch.signals import RateShift, WindowSignals, pattern_kinds

    labels = RateShift(classes=["0", "1"], rates=[0.46, 0.54], low=[0.4, 0.5], high=[0.5, 0.6], reference=[0.34, 0.66],
                       n=500, n_reference=2000, p_value=1e-6, test="two-proportion z", moved=True, headline=1)
    realised = MetricSignal(metric="accuracy", kind="realised", value=0.84, low=0.8, high=0.87, n=500, reference=0.92, moved=True)
    base = {"alpha": 0.001, "data_columns": 3, "data_drifted_columns": 0, "data_share_drifted": 0.0, "data_drifted": False}
    concept = WindowSignals(pattern=CONCEPT, labels=labels, models=[ModelSignals(model="m", realised=realised)], **base)
    ((kind, model, moved, size),) = pattern_kinds(concept)
    assert (kind, model, moved) == ("concept", "", ["labels", "accuracy:m"]) and size == pytest.approx(0.12)
    shifted = labels.model_copy(update={"rates": [0.2, 0.8], "reference": [0.5, 0.5]})
    prediction = WindowSignals(pattern=PREDICTION, models=[ModelSignals(model="m", moved=True, predictions=shifted)], **base)
    assert pattern_kinds(prediction) == [("prediction", "m", ["y_pred"], pytest.approx(0.3))]
    assert pattern_kinds(WindowSignals(pattern=COVARIATE, **{**base, "data_drifted": True})) == []
