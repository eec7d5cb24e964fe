"""What `vigil drift` watches: the reference (a dataset, or a row or time range of one), the streams, and
model outputs — a model's, computed in process, or the ones a dataset logged (model ``logged``).

A dataset that declares ``prediction:`` and/or ``scores:`` / ``score_prefix:`` carries the outputs a
model already logged; they feed prediction drift, realised and estimated accuracy exactly like a
model's outputs, so a suite with no ``models:`` can watch production logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.evaluate.drift import DriftSide, labels_of, model_predictions
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels, load_dataset
from suite.data_spec import DatasetSpec
from suite.errors import DataError, VigilError
from suite.settings import Settings
from suite.spec import SuiteSpec

LOGGED = "logged"
"""The model name under which a dataset's logged outputs are stored."""


@dataclass(frozen=True)
class Reference:
    """The drift reference: the whole dataset it comes from, which of its rows it is, and its side of a comparison.

    Attributes:
        data: The reference dataset, all rows.
        keep: Which rows of ``data`` form the reference (all, unless ``reference_rows``/``reference_range``).
        side: Features, outputs and labels of the reference rows.
        y: The reference rows' labels for the window signals (see :func:`window_labels`), None without a label column.
    """

    data: LoadedDataset
    keep: np.ndarray
    side: DriftSide
    y: np.ndarray | None


def dataset_spec(suite: SuiteSpec, name: str) -> DatasetSpec:
    """The suite's dataset called ``name``."""
    return next(d for d in suite.datasets if d.name == name)


def stream_datasets(suite: SuiteSpec, dataset: str | None = None) -> list[str]:
    """The datasets `vigil drift` cuts into windows (or the one named).

    Datasets other than the reference with a timestamp column (with ``window: {rows: N}``, also those
    with ``use: reference`` and no timestamp), and the reference dataset itself when only part of it is
    the reference (``reference_rows`` / ``reference_range``).
    """
    spec = suite.drift
    if spec is None:
        raise VigilError(f"suite {suite.source}: drift: expected a drift section with a reference dataset, got none")
    by_rows = spec.windowing.rows is not None
    part = spec.reference_rows is not None or spec.reference_range is not None
    names = [d.name for d in suite.datasets
             if (d.name == spec.reference and part)
             or (d.name != spec.reference and (d.timestamp or (by_rows and d.use == "reference")))]
    if dataset is not None:
        if dataset not in names:
            raise VigilError(f"suite {suite.source}: --dataset: expected one of the streams to watch {names}, got {dataset!r}")
        return [dataset]
    if not names:
        raise VigilError(f"suite {suite.source}: datasets: expected a dataset with a timestamp column to watch, got none")
    return names


def outputs(suite: SuiteSpec, data: LoadedDataset, settings: Settings, classes: list[int | str] | None) -> dict[str, pd.DataFrame]:
    """Every model's outputs on ``data`` and, when the dataset logged some, those as model ``logged``."""
    found = model_predictions(suite, data, settings, len(classes) if classes else None)
    found.update(logged_outputs(suite, dataset_spec(suite, data.name), data, classes))
    return found


def logged_outputs(suite: SuiteSpec, spec: DatasetSpec, data: LoadedDataset, classes: list[int | str] | None) -> dict[str, pd.DataFrame]:
    """The dataset's logged outputs as a model's would be (``sample_id, y_pred, score_<k>``); empty when it logs none."""
    if not spec.logs_outputs:
        return {}
    where = f"suite {suite.source}: datasets[{suite.datasets.index(spec)}] ({spec.name})"
    columns = spec.logged_columns(list(data.frame.columns))
    missing = [c for c in columns if c not in data.frame.columns]
    if missing:
        field = "prediction" if missing[0] == spec.prediction else "scores"
        raise DataError(f"{where}: {field}: column {missing[0]!r} not found")
    frame = pd.DataFrame({SAMPLE_ID: data.sample_ids})
    if suite.task != "classification":
        if spec.prediction is None:
            raise DataError(f"{where}: prediction: a regression suite needs the column of logged predictions")
        frame["y_pred"] = data.frame[spec.prediction].to_numpy(dtype=np.float64)
        return {LOGGED: frame}
    score_columns = columns[1:] if spec.prediction is not None else columns
    if not score_columns and spec.score_prefix is not None:
        raise DataError(f"{where}: score_prefix: no column starts with {spec.score_prefix!r}")
    if score_columns and classes is not None and len(score_columns) != len(classes):
        raise DataError(f"{where}: scores: expected one column per class {classes}, got {score_columns}")
    scores = data.frame[score_columns].to_numpy(dtype=np.float64) if score_columns else None
    if spec.prediction is not None:
        frame["y_pred"] = encode_labels(data.frame[spec.prediction], classes, f"{where}: prediction")[0]
    else:
        frame["y_pred"] = np.asarray(scores).argmax(axis=1).astype(np.int64)
    for k in range(scores.shape[1] if scores is not None else 0):
        frame[f"score_{k}"] = scores[:, k]  # type: ignore[index]
    return {LOGGED: frame}


def window_reference(
    suite: SuiteSpec, settings: Settings, classes: list[int | str] | None, data: LoadedDataset | None = None,
) -> Reference:
    """The suite's drift reference: its rows (all, or ``reference_rows`` / ``reference_range``), outputs and labels.

    ``data`` is the reference dataset when the caller has already loaded it (it is read once per run).
    """
    spec = suite.drift
    assert spec is not None
    ds = dataset_spec(suite, spec.reference)
    data = data if data is not None else load_dataset(ds, suite)
    keep = reference_mask(suite, ds, data.frame)
    rows = LoadedDataset(data.name, data.frame[keep].reset_index(drop=True), data.features, data.label, data.sha256, data.source)
    preds = {m: p[keep].reset_index(drop=True) for m, p in outputs(suite, data, settings, classes).items()} if spec.predictions else {}
    labels = labels_of(rows, suite.task, classes)
    columns = list(spec.columns) if spec.columns is not None else list(data.features)
    side = DriftSide(rows.frame[columns], preds, labels if spec.target else None)
    return Reference(data, keep, side, window_labels(rows, suite.task, classes))


def reference_mask(suite: SuiteSpec, ds: DatasetSpec, frame: pd.DataFrame) -> np.ndarray:
    """Which rows of the reference dataset form the reference."""
    spec = suite.drift
    assert spec is not None
    keep = np.ones(len(frame), dtype=bool)
    if spec.reference_rows is not None:
        start, end = spec.reference_rows
        if start >= len(frame):
            raise DataError(f"suite {suite.source}: drift.reference_rows: expected rows within the {len(frame)} rows of {ds.name}, got {list(spec.reference_rows)}")
        keep = (np.arange(len(frame)) >= start) & (np.arange(len(frame)) < end)
    elif spec.reference_range is not None:
        if not ds.timestamp:
            raise DataError(f"suite {suite.source}: drift.reference_range: dataset {ds.name} has no timestamp column")
        times = pd.to_datetime(frame[ds.timestamp])
        bound = spec.reference_range
        for moment, inside in ((bound.start, lambda t, b: t >= b), (bound.end, lambda t, b: t < b)):
            if moment is not None:
                stamp = pd.Timestamp(moment)
                if times.dt.tz is not None and stamp.tzinfo is None:
                    stamp = stamp.tz_localize("UTC")
                keep &= inside(times, stamp).to_numpy()
        if not keep.any():
            raise DataError(f"suite {suite.source}: drift.reference_range: no row of {ds.name} falls in {bound.start} .. {bound.end}")
    return keep


def window_labels(window: LoadedDataset, task: str, classes: list[int | str] | None) -> np.ndarray | None:
    """The window's labels for the signals: class indices with -1 where missing (floats with NaN); None without a label column."""
    if window.label is None:
        return None
    values = window.frame[window.label]
    known = values.notna().to_numpy()
    if task != "classification":
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    y = np.full(len(values), -1, dtype=np.int64)
    if known.any():
        y[known] = encode_labels(values[known], classes, f"dataset {window.name}")[0]
    return y
