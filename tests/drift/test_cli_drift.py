"""`vigil drift` on the examples as shipped: the shifts of 2026-03-05 and nothing before."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from storage.store import ResultStore
from suite.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
SHIFT = pd.Timestamp("2026-03-05")
LAST_LABELLED = pd.Timestamp("2026-03-05")


@pytest.fixture()
def example(tmp_path: Path) -> Path:
    target = tmp_path / "breast_cancer"
    shutil.copytree(ROOT / "examples" / "breast_cancer", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "suite.yaml"


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_vigil_drift_on_the_example_finds_the_shift_day(example: Path, vigil_home: Path) -> None:
    result = CliRunner().invoke(app, ["drift", "--suite", str(example), "--json"])
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)
    assert "windows: started, 7 to do" in result.stderr and "windows: done, 7/7" in result.stderr  # plain progress off a terminal
    starts = [pd.Timestamp(w["window_start"]) for w in windows]
    assert starts == list(pd.date_range("2026-03-01", periods=7, freq="D"))
    assert [w["dataset_drifted"] for w in windows] == [s >= SHIFT for s in starts]
    assert [w["labelled"] for w in windows] == [s <= LAST_LABELLED for s in starts]
    assert [w["pattern"] for w in windows] == ["covariate drift" if s >= SHIFT else "none" for s in starts]
    shifted = windows[starts.index(SHIFT)]["signals"]
    assert shifted["data_drifted_columns"] >= 9 and shifted["labels"]["moved"]  # the shift moved the label rate too
    assert {c["column"] for c in windows[0]["columns"] if c["kind"] == "data"} == {
        c for c in example.read_text().split("columns: [", 1)[1].split("]", 1)[0].replace("\n", " ").replace(" ", "").split(",")}
    store = ResultStore(load_settings())
    estimated = store.history(suite="breast-cancer", metric="accuracy_estimated", dataset="cancer-stream")
    realised = store.history(suite="breast-cancer", metric="accuracy", dataset="cancer-stream")
    assert len(estimated) == 7 * 2 and len(realised) == 5 * 2  # both models; labels for five days only
    assert estimated["ci_low"].le(estimated["value"]).all() and estimated["value"].le(estimated["ci_high"]).all()
    errors = store.history(suite="breast-cancer", metric="accuracy_estimate_error", dataset="cancer-stream")
    assert errors["value"].abs().max() < 0.05  # the estimates were within 5 points of the realised accuracy
    # Re-running the last days replaces their runs: still seven window runs.
    again = CliRunner().invoke(app, ["drift", "--suite", str(example), "--since", "2026-03-06"])
    assert again.exit_code == 0, again.output
    assert "covariate drift" in again.stdout and "2026-03-06" in again.stdout
    assert len(store.list_runs(suite="breast-cancer")) == 7


def test_vigil_drift_without_a_drift_section_exits_2(example: Path, vigil_home: Path) -> None:
    text = example.read_text()
    example.write_text(text[: text.index("drift:\n")] + text[text.index("metrics:"):])
    result = CliRunner().invoke(app, ["drift", "--suite", str(example)])
    assert result.exit_code == 2
    assert "drift: expected a drift section" in result.output


@pytest.mark.slow  # the whole drift pipeline in-process over many windows (15–30 CPU s)
def test_vigil_drift_on_the_digits_example_finds_the_dimming(tmp_path: Path, vigil_home: Path) -> None:
    target = tmp_path / "digits"
    shutil.copytree(ROOT / "examples" / "digits", target, ignore=shutil.ignore_patterns("__pycache__"))
    result = CliRunner().invoke(app, ["drift", "--suite", str(target / "suite.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)
    assert [w["dataset_drifted"] for w in windows] == [pd.Timestamp(w["window_start"]) >= SHIFT for w in windows]
    assert [w["pattern"] for w in windows] == ["covariate drift" if pd.Timestamp(w["window_start"]) >= SHIFT else "none" for w in windows]
    history = ResultStore(load_settings()).history(suite="digits", metric="drift_share", model="data", dataset="digits-stream")
    assert len(history) == 7 and history["value"].iloc[-1] == 1.0
