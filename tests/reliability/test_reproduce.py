"""`vigil reproduce` on a real run of a slimmed digits suite: identical → 0, a different seed → 1, an edited data file → 2.

The run and its reproductions go through the real flow (Prefect, Ray); the
reproductions run in a scratch home, so the store keeps one run and its prediction
cache is left as the run left it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from storage.store import ResultStore
from suite.settings import load_settings
from tests.suite_edits import edit_suite, slim_suite

pytestmark = pytest.mark.slow


def test_reproduce_is_identical_then_names_moved_metrics_then_the_changed_data_file(
    digits_suite: Path, vigil_home: Path, prefect_server: None,
) -> None:
    data = digits_suite.parent / "data" / "eval.parquet"
    shutil.copy(digits_suite.parent / "data" / "reference.parquet", data)  # an evaluation set held in a file, not pinned by the suite
    slim_suite(digits_suite, datasets=[{"name": "digits-test", "path": "data/eval.parquet", "label": "label", "image_shape": [8, 8]}])
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(digits_suite), "--run-id", "orig"])
    assert ran.exit_code in (0, 1), ran.output
    cache = sorted(p.name for p in (vigil_home / "cache").rglob("*.parquet"))

    same = runner.invoke(app, ["reproduce", "orig"])
    assert same.exit_code == 0, same.output
    assert "identical: run orig:" in same.output and " 2 prediction sets" in same.output
    assert [r.run_id for r in ResultStore(load_settings()).list_runs()] == ["orig"]  # nothing added to the store
    assert sorted(p.name for p in (vigil_home / "cache").rglob("*.parquet")) == cache

    reseeded = digits_suite.with_name("reseeded.yaml")
    reseeded.write_text(digits_suite.read_text())
    edit_suite(reseeded, seed=8)  # the bootstrap resamples differently: the CIs move, the predictions do not
    moved = runner.invoke(app, ["reproduce", "orig", "--suite", str(reseeded)])
    assert moved.exit_code == 1, moved.output
    assert "different: run orig:" in moved.output and "0 prediction sets differ" in moved.output
    assert re.search(r"^  digits-test/cnn/clean/all/accuracy: (ci_low|ci_high) ", moved.output, re.M), moved.output

    frame = pd.read_parquet(data)
    frame.loc[0, "pixel_10"] += 1.0
    frame.to_parquet(data)
    changed = runner.invoke(app, ["reproduce", "orig"])
    assert changed.exit_code == 2, changed.output
    (line,) = changed.output.strip().splitlines()[-1:]
    assert line.startswith("error: run 'orig': cannot reproduce: dataset 'digits-test'") and str(data) in line

    assert runner.invoke(app, ["verify", "orig"]).exit_code == 0
