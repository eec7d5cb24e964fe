"""Data validity by default: NaN, inf, 0 rows, no features and stray labels stop a run before inference, in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.evaluate.prepare import prepare_run
from suite.errors import DataError

ROOT = Path(__file__).resolve().parents[2]
ROWS = 40


def _frame(**changes: Any) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=ROWS), "b": rng.normal(size=ROWS), "label": rng.integers(0, 2, ROWS)})
    for column, values in changes.items():
        frame[column] = values
    return frame


def _suite(tmp_path: Path, frame: pd.DataFrame, *, dataset: dict[str, Any] | None = None, reference: pd.DataFrame | None = None,
           fmt: str = "csv", **top: Any) -> Path:
    if fmt == "parquet":  # features stay in the file: checked by record batch (issue 18)
        frame.to_parquet(tmp_path / "data.parquet", index=False)
    else:  # "csv", or "csv-streamed" (a caller made it large: held in a Parquet copy, see streamed_csv)
        frame.to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "model.py").write_text("def predict(x):\n    return x[:, 0] > 0\n")
    datasets = [{"name": "test", "path": f"data.{fmt.split('-')[0]}", "label": "label", **(dataset or {})}]
    if reference is not None:
        reference.to_csv(tmp_path / "ref.csv", index=False)
        datasets.append({"name": "ref", "path": "ref.csv", "label": "label", "use": "reference"})
        top["drift"] = {"reference": "ref"}
    doc = {"name": "valid", "task": "classification", "metrics": ["accuracy"], "bootstrap": {"resamples": 50},
           "models": [{"name": "m", "format": "callable", "module": "model.py:predict", "output": "labels"}], "datasets": datasets, **top}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _message(suite: Path) -> str:
    with pytest.raises(DataError) as info:
        prepare_run(suite)
    assert "\n" not in str(info.value)
    return str(info.value)


WHERE = "datasets[0] (test): "
A_NAN = np.where(np.arange(ROWS) < 3, np.nan, 1.0)
A_NAN_INF = np.where(np.arange(ROWS) < 3, np.nan, np.where(np.arange(ROWS) == 3, np.inf, 1.0))


def streamed_csv(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every CSV counts as large (held in its Parquet copy), parsed 7 rows at a time."""
    import storage.csv_files

    monkeypatch.setattr(storage.csv_files, "IN_MEMORY_BYTES", 0)
    monkeypatch.setattr(storage.csv_files, "CHUNK_ROWS", 7)


@pytest.mark.parametrize("fmt", ["csv", "csv-streamed", "parquet"])
@pytest.mark.parametrize(("frame", "dataset", "expected"), [
    (_frame(a=A_NAN), {}, "column a: 3 NaN values in 40 rows (allow with allow_nan: [a])"),
    (_frame(a=A_NAN_INF), {}, "column a: 3 NaN and 1 inf values in 40 rows (inf is never allowed; allow NaN with allow_nan: [a])"),
    (_frame(a=A_NAN_INF), {"allow_nan": ["a"]}, "column a: 1 inf values in 40 rows (inf is never allowed)"),
    (_frame(a=A_NAN, b=-np.inf), {}, "column a: 3 NaN values in 40 rows (allow with allow_nan: [a]); 1 more column too"),
    (_frame().iloc[:0], {}, "expected at least one row, got 0 rows"),
    (_frame()[["label"]], {}, "features: expected at least one feature column, got none"),
    (_frame(a=A_NAN), {"allow_nan": ["c"]}, "allow_nan: expected feature columns, got 'c'"),
    (_frame(label=np.where(np.arange(ROWS) < 2, np.nan, 1.0)), {}, "column label: 2 missing labels in 40 rows (an evaluation dataset needs every label)"),
])
def test_bad_values_are_refused_naming_suite_dataset_and_column(frame: pd.DataFrame, dataset: dict[str, Any], expected: str, fmt: str,
                                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if fmt == "csv-streamed":
        streamed_csv(monkeypatch)
    suite = _suite(tmp_path, frame, dataset=dataset, fmt=fmt)
    assert _message(suite) == f"suite {suite}: {WHERE}{expected}"


def test_a_parquet_dataset_is_checked_batch_by_batch_and_keeps_its_features_in_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import storage.dataset_files

    monkeypatch.setattr(storage.dataset_files, "BATCH_ROWS", 7)  # 40 rows: six batches
    every_fifth = np.where(np.arange(ROWS) % 5 == 0, np.nan, 1.0)
    suite = _suite(tmp_path, _frame(b=every_fifth), fmt="parquet")
    assert _message(suite) == f"suite {suite}: {WHERE}column b: 8 NaN values in 40 rows (allow with allow_nan: [b])"
    data = prepare_run(_suite(tmp_path, _frame(b=every_fifth), dataset={"allow_nan": ["b"]}, fmt="parquet")).data("test")
    assert data.feature_file == str(tmp_path / "data.parquet") and list(data.meta.columns) == ["label", "sample_id"]
    expected = _frame(b=every_fifth).assign(sample_id=np.arange(ROWS))
    pd.testing.assert_frame_equal(data.frame, expected)  # the whole frame, features read back, as a CSV or a loader gives it
    pd.testing.assert_frame_equal(data.select(["b", "label"]), expected[["b", "label"]])


def test_a_feature_that_slices_results_is_kept_beside_the_ids(tmp_path: Path) -> None:
    suite = _suite(tmp_path, _frame(), fmt="parquet", slices=[{"column": "a", "bins": [0.0]}])
    data = prepare_run(suite).data("test")
    assert data.feature_file is not None and "a" in data.features and list(data.meta.columns) == ["a", "label", "sample_id"]
    pd.testing.assert_frame_equal(data.frame, _frame().assign(sample_id=np.arange(ROWS)))  # read once, not twice


def test_allowed_nan_passes(tmp_path: Path) -> None:
    plan = prepare_run(_suite(tmp_path, _frame(a=A_NAN), dataset={"allow_nan": ["a"]}))
    assert plan.datasets[0].rows == ROWS


def test_allow_nan_left_empty_keeps_the_suite_fingerprint(tmp_path: Path) -> None:
    before = prepare_run(_suite(tmp_path, _frame())).suite
    after = prepare_run(_suite(tmp_path, _frame(), dataset={"allow_nan": []})).suite
    assert before.fingerprint() == after.fingerprint()


def test_labels_outside_the_declared_classes(tmp_path: Path) -> None:
    suite = _suite(tmp_path, _frame(label=np.where(np.arange(ROWS) < 5, 7, 1)), classes=[0, 1])
    assert _message(suite) == f"suite {suite}: {WHERE}column label: 5 labels outside the suite's classes [0, 1] (e.g. 7)"


def test_reference_labels_outside_the_evaluation_classes(tmp_path: Path) -> None:
    reference = _frame(label=np.where(np.arange(ROWS) < 4, 2, 0))
    suite = _suite(tmp_path, _frame(), reference=reference)
    assert _message(suite) == (f"suite {suite}: datasets[1] (ref): column label: 4 labels outside the evaluation data's classes "
                               "[0, 1] (e.g. 2); declare classes: to widen them")


def _vigil(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VIGIL_INDEX_URL", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.slow  # `vigil` in a subprocess
@pytest.mark.parametrize(("command", "frame", "expected"), [
    ("validate", _frame(a=A_NAN_INF), "column a: 3 NaN and 1 inf values in 40 rows"),
    ("run", _frame().iloc[:0], "expected at least one row, got 0 rows"),
])
def test_through_the_cli_exit_2_one_line_nothing_recorded(command: str, frame: pd.DataFrame, expected: str, tmp_path: Path) -> None:
    suite = _suite(tmp_path, frame)
    result = _vigil(command, str(suite), home=tmp_path / "home")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: suite {suite}: {WHERE}{expected}"), result.stderr
    assert not (tmp_path / "home" / "runs").exists()
