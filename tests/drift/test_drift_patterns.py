"""`vigil drift` names what moved: seeded logged-prediction streams with a known change, no model.

Each stream's first 2,000 rows are the reference (``reference_rows``) and the rest is cut into
windows of 500 rows; the change starts at a known window (see ``stream_data``).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from cli.drift import window_table
from cli.main import app
from drift.performance_estimation import fit_calibrator
from pipeline.drift_watch.windows import WindowOutcome, watch_windows
from storage.store import ResultStore
from suite.settings import load_settings
from tests.drift.stream_data import CHANGE, REF_ROWS, ROWS, WINDOWS, stream, write_logged_suite

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_abrupt_concept_drift_is_named_from_its_window_on_via_the_cli(tmp_path: Path, vigil_home: Path) -> None:
    suite = write_logged_suite(tmp_path / "concept", "concept")
    result = CliRunner().invoke(app, ["drift", "--suite", str(suite), "--json"])
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)
    assert [w["pattern"] for w in windows] == ["none"] * CHANGE + ["concept drift"] * (WINDOWS - CHANGE)
    # Row windows of the same data after the reference rows, with deterministic ids.
    assert [(w["first_row"], w["end_row"]) for w in windows] == [(REF_ROWS + i * ROWS, REF_ROWS + (i + 1) * ROWS) for i in range(WINDOWS)]
    assert windows[0]["run_id"] == "logs-concept-drift-stream-rows-002000-002500"
    assert all(w["window_start"] is None and w["rows"] == ROWS for w in windows)
    data = stream("concept")
    calibrator = fit_calibrator(data[["p0", "p1"]].to_numpy(np.float64)[:REF_ROWS], data["y"].to_numpy()[:REF_ROWS], seed=0)
    for w in (windows[0], windows[-1]):
        rows = data.iloc[w["first_row"]:w["end_row"]]
        signals = w["signals"]
        assert signals["data_drifted"] is False and signals["data_columns"] == 3
        labels = signals["labels"]  # class 1's rate, with its Wilson interval, against the reference's
        assert labels["rates"][1] == pytest.approx(rows["y"].mean())
        assert labels["low"][1] < rows["y"].mean() < labels["high"][1]
        assert labels["reference"][1] == pytest.approx(data["y"][:REF_ROWS].mean())
        (logged,) = signals["models"]
        assert logged["model"] == "logged" and logged["predictions"]["moved"] is False
        realised = logged["realised"]
        assert realised["value"] == pytest.approx(float((rows["y_pred"] == rows["y"]).mean()))
        assert realised["reference"] == pytest.approx(float((data["y_pred"] == data["y"])[:REF_ROWS].mean()))
        # The estimate: the logged scores calibrated on the reference rows' scores and labels.
        proba = rows[["p0", "p1"]].to_numpy(np.float64)
        calibrated = calibrator.apply(proba)
        assert logged["estimated"]["value"] == pytest.approx(float(calibrated[np.arange(len(proba)), proba.argmax(axis=1)].mean()), abs=1e-6)
    assert windows[-1]["signals"]["labels"]["moved"] and windows[-1]["signals"]["models"][0]["realised"]["moved"]
    # Every per-column row of the window's drift table is in the JSON, as stored.
    columns = {(c["kind"], c["column"]) for c in windows[0]["columns"]}
    assert {("data", "x0"), ("data", "x1"), ("data", "x2"), ("target", "y"), ("prediction", "y_pred")} <= columns
    assert all({"score", "method", "drifted", "threshold"} <= set(c) for c in windows[0]["columns"])
    # The pattern and the class rates are stored with each window run.
    store = ResultStore(load_settings())
    assert store.get_run(windows[-1]["run_id"]).provenance["pattern"] == "concept drift"
    rates = store.history(suite="logs-concept", metric="label_rate:1", model="data", dataset="stream")
    assert len(rates) == WINDOWS and rates["value"].iloc[-1] == pytest.approx(windows[-1]["signals"]["labels"]["rates"][1])
    # The table `vigil drift` prints: one line per window, within 80 columns.
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(window_table([WindowOutcome.model_validate(w) for w in windows]))
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    change = next(line for line in lines if "rows 7000-7500" in line)
    assert change.split()[:2] == ["concept", "drift"] and ".81*" in change and "vs .63*" in change


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
@pytest.mark.parametrize(("kind", "pattern"), [
    ("covariate", "covariate drift"), ("prediction", "prediction drift"), ("both", "covariate+concept"),
])
def test_covariate_and_prediction_drift_are_named(tmp_path: Path, vigil_home: Path, kind: str, pattern: str) -> None:
    suite = write_logged_suite(tmp_path / kind, kind, windows=6, change=3)
    outcomes = watch_windows(str(suite), load_settings())
    assert [o.pattern for o in outcomes] == ["none"] * 3 + [pattern] * 3
    shifted = outcomes[-1].signals
    assert shifted.data_drifted == (kind != "prediction")
    assert shifted.models[0].predictions is not None and shifted.models[0].predictions.moved


def test_a_model_free_suite_has_nothing_for_vigil_run(tmp_path: Path, vigil_home: Path) -> None:
    suite = write_logged_suite(tmp_path / "logs", "none", windows=1)
    for command in (["run", str(suite)], ["validate", str(suite)]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert "models: nothing to evaluate" in result.output and "vigil drift" in result.output


def _suite_with_window(tmp_path: Path, window: object) -> Path:
    path = write_logged_suite(tmp_path / "bad", "none", windows=1)
    doc = yaml.safe_load(path.read_text())
    doc["drift"]["window"] = window
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.slow  # `vigil` in a subprocess
def test_bad_window_specs_are_one_line_at_validation_and_exit_2(tmp_path: Path) -> None:
    path = _suite_with_window(tmp_path, "1X")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "cli.main", "drift", "--suite", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert f"suite {path}: drift.window: expected a fixed span" in done.stderr and "got '1X'" in done.stderr


@pytest.mark.parametrize(("window", "message"), [
    ("2W", "drift.window: expected a fixed span such as '1D' or '6h', a calendar period"),
    ({"rows": 0}, "drift.window: rows: expected greater than 0, got 0"),
    ({"rows": 500, "every": "1D"}, "drift.window: expected exactly one of rows, calendar or every, got ['rows', 'every']"),
    ({"every": "1ME"}, "drift.window: every: expected a fixed span such as '1D' or '6h', got '1ME'"),
    ({"calendar": "fortnight"}, "drift.window: expected a fixed span such as '1D' or '6h'"),
    ({"size": 5}, "drift.window: size: unknown key"),
])
def test_each_bad_window_names_the_key(tmp_path: Path, window: object, message: str) -> None:
    from suite.errors import SpecError
    from suite.load import load_suite

    path = _suite_with_window(tmp_path, window)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("window", ["1D", "6h", "1W", "1ME", "1MS", "week", {"calendar": "month"}, {"every": "1D"}, {"rows": 10}])
def test_good_windows_validate(tmp_path: Path, window: object) -> None:
    from suite.load import load_suite

    assert load_suite(_suite_with_window(tmp_path, window)).drift.windowing is not None
