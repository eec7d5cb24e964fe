"""`pipeline.drift_watch.windows` on a synthetic stream with a known change point: real Evidently, real storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from drift.performance_estimation import fit_calibrator
from pipeline.evaluate.drift import drift_table
from pipeline.drift_watch.windows import TRIGGER, watch_windows
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import load_settings
from tests.drift.wiring_data import CHANGE_DAY, DAYS, ROWS, window_day, write_suite


@pytest.fixture()
def synth(tmp_path: Path, vigil_home: Path) -> Path:
    return write_suite(tmp_path / "synth")


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_windows_flag_the_change_point_and_not_before(synth: Path) -> None:
    outcomes = watch_windows(str(synth), load_settings())
    assert [window_day(o.run_id) for o in outcomes] == list(range(1, DAYS + 1))
    assert [o.dataset_drifted for o in outcomes] == [day >= CHANGE_DAY for day in range(1, DAYS + 1)]
    assert [o.labelled for o in outcomes] == [day < DAYS for day in range(1, DAYS + 1)]
    table = drift_table(outcomes[CHANGE_DAY - 1].run_id, load_settings())
    data = table[table["kind"] == "data"].set_index("column")
    assert data.loc[["x0", "x1"], "drifted"].all() and not data.loc["x2", "drifted"]
    assert set(table["kind"]) == {"data", "prediction", "target", "multivariate"}
    # Evidently ran (the engine for its report); the default verdicts are Vigil's policy on the same frames.
    assert (table["engine"] == "checks").all() and (~table["sampled"]).all()
    assert set(table["correction"]) == {"bh"} and (table["alpha"] == 0.05).all()
    assert (table["p_adjusted"] >= table["p_value"]).all() and table["effect"].notna().all()
    joint = table[table["kind"] == "multivariate"].iloc[0]
    assert (joint["column"], joint["method"], bool(joint["drifted"])) == ("<joint>", "mmd", True)
    assert (table["n_current"] == ROWS).all()
    unlabelled = drift_table(outcomes[-1].run_id, load_settings())
    assert "target" not in set(unlabelled["kind"])


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_windows_are_runs_with_one_history_point_each_and_rerun_replaces(synth: Path) -> None:
    settings = load_settings()
    first = watch_windows(str(synth), settings)
    again = watch_windows(str(synth), settings, since=pd.Timestamp("2026-05-03").to_pydatetime())
    assert [o.run_id for o in again] == [o.run_id for o in first[2:]]
    store = ResultStore(settings)
    runs = store.list_runs(suite="synth")
    assert sorted(r.run_id for r in runs) == sorted(o.run_id for o in first)
    assert {r.trigger for r in runs} == {TRIGGER} and {r.verdict for r in runs} == {"none"}
    curve = store.history(suite="synth", metric="drift_share", dataset="stream")
    assert curve["run_id"].tolist() == [o.run_id for o in first]
    assert curve["value"].tolist() == pytest.approx([o.share_drifted for o in first])
    assert curve["started_at"].dt.tz_convert(None).tolist() == [pd.Timestamp(o.window_start) for o in first]


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_estimated_accuracy_covers_realised_on_the_shifted_window(synth: Path) -> None:
    settings = load_settings()
    outcomes = watch_windows(str(synth), settings)
    store = ResultStore(settings)
    shifted = store.run_results(outcomes[CHANGE_DAY - 1].run_id).set_index("metric")
    est, realised = shifted.loc["accuracy_estimated"], shifted.loc["accuracy"]
    assert est["ci_low"] <= realised["value"] <= est["ci_high"]
    assert shifted.loc["accuracy_estimate_error", "value"] == pytest.approx(est["value"] - realised["value"])
    # how each stored interval was made: the scorer's choice for the realised metric (a window is under 20,000 rows), Wilson for class rates
    assert realised["ci_method"] == "bootstrap"
    assert set(shifted.loc[shifted.index.str.startswith("label_rate:"), "ci_method"]) == {"wilson"}
    # The realised accuracy, recomputed independently from the model and the window's rows.
    stream = pd.read_parquet(synth.parent / "stream.parquet")
    rows = stream[stream["ts"].dt.floor("1D") == pd.Timestamp(outcomes[CHANGE_DAY - 1].window_start)]
    model = sio.load(synth.parent / "model.skops", trusted=sio.get_untrusted_types(file=synth.parent / "model.skops"))
    proba = model.predict_proba(rows[["x0", "x1", "x2"]].to_numpy(np.float32))
    assert realised["value"] == pytest.approx(float(np.mean(proba.argmax(axis=1) == rows["y"].astype(int))))
    # The estimate uses probabilities calibrated on the labelled reference (800 rows: Platt scaling).
    reference = pd.read_parquet(synth.parent / "reference.parquet")
    calibrator = fit_calibrator(model.predict_proba(reference[["x0", "x1", "x2"]].to_numpy(np.float32)), reference["y"], seed=1)
    calibrated = calibrator.apply(proba)
    assert calibrator.method == "platt"
    assert est["value"] == pytest.approx(float(calibrated[np.arange(len(proba)), proba.argmax(axis=1)].mean()), abs=1e-6)
    assert est["metric_version"] == "cbpe-2"
    assert store.get_run(outcomes[CHANGE_DAY - 1].run_id).provenance["calibration"] == {"logit": "platt"}
    unlabelled = store.run_results(outcomes[-1].run_id)
    assert "accuracy_estimated" in set(unlabelled["metric"]) and "accuracy" not in set(unlabelled["metric"])


def test_unknown_dataset_names_the_choices(synth: Path) -> None:
    with pytest.raises(VigilError, match=r"--dataset: expected one of the streams to watch \['stream'\], got 'nope'"):
        watch_windows(str(synth), load_settings(), dataset="nope")


def test_summaries_engine_on_ray_gives_the_same_verdicts(tmp_path: Path, vigil_home: Path, local_ray: str) -> None:
    suite = write_suite(tmp_path / "synth", mode="summaries")
    outcomes = watch_windows(str(suite), load_settings())
    assert [o.dataset_drifted for o in outcomes] == [day >= CHANGE_DAY for day in range(1, DAYS + 1)]
    table = drift_table(outcomes[CHANGE_DAY - 1].run_id, load_settings())
    columns = table[table["kind"] != "multivariate"]
    assert (columns["engine"] == "summaries").all() and (~table["sampled"]).all()
    assert not (load_settings().runs_dir / outcomes[0].run_id / "drift.html").exists()
