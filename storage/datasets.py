"""Versioned datasets: read a suite's dataset from Parquet/CSV or a built-in loader.

Every dataset gets a content checksum recorded with each run. A file's checksum
is its bytes' sha256 (checked against the suite's pin when one is given); a
built-in loader's is the sha256 of its canonical table content. Built-in loaders
split deterministically with a fixed seed, so a split's version never depends
on a suite's seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from storage.checksums import frame_sha256, sha256_file
from suite.errors import ChecksumError, DataError
from suite.registry import Registry
from suite.spec import DatasetSpec, SuiteSpec

SAMPLE_ID = "sample_id"
__all__ = ["DATASET_LOADERS", "SAMPLE_ID", "LoadedDataset", "check_labels", "check_reference_labels", "check_values", "encode_labels", "frame_sha256", "load_dataset", "sha256_file"]

Loader = Callable[[str], pd.DataFrame]
DATASET_LOADERS: Registry[Loader] = Registry("dataset loader")


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset in memory with what a run needs to know about it."""

    name: str
    frame: pd.DataFrame
    features: list[str]
    label: str | None
    sha256: str
    source: str

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self.frame)

    @property
    def sample_ids(self) -> np.ndarray:
        """Stable per-row ids (int64) that pair clean and perturbed results."""
        return self.frame[SAMPLE_ID].to_numpy(dtype=np.int64)


def _split(frame: pd.DataFrame, split: str, label: str) -> pd.DataFrame:
    """A fixed, stratified 70/30 split (seed 0) so data versions never move."""
    if split == "all":
        return frame
    rng = np.random.default_rng(0)
    test = np.zeros(len(frame), dtype=bool)
    for _, idx in frame.groupby(label).indices.items():
        chosen = rng.permutation(idx)[: int(round(len(idx) * 0.3))]
        test[chosen] = True
    return frame[test if split == "test" else ~test]


def _sklearn_loader(name: str) -> Loader:
    def load(split: str) -> pd.DataFrame:
        from sklearn import datasets

        bunch = getattr(datasets, f"load_{name}")()
        columns = (
            [f"pixel_{i}" for i in range(bunch.data.shape[1])]
            if name == "digits"
            else [str(c).replace(" ", "_") for c in bunch.feature_names]
        )
        frame = pd.DataFrame(bunch.data.astype(np.float32), columns=columns)
        frame["label"] = bunch.target.astype(np.int64)
        frame.insert(0, SAMPLE_ID, np.arange(len(frame), dtype=np.int64))
        return _split(frame, split, "label").reset_index(drop=True)

    return load


DATASET_LOADERS.register("sklearn.digits", _sklearn_loader("digits"))
DATASET_LOADERS.register("sklearn.breast_cancer", _sklearn_loader("breast_cancer"))


def _read_file(spec: DatasetSpec, path: Path, where: str) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{where}: path: file {path} not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error for the user
        raise DataError(f"{where}: path: cannot read {path.name} ({type(exc).__name__}: {exc})") from None
    raise DataError(f"{where}: path: expected a .parquet or .csv file, got {path.name}")


def _check_columns(frame: pd.DataFrame, names: list[str], field: str, where: str) -> None:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        shown = ", ".join(map(str, list(frame.columns)[:12]))
        raise DataError(f"{where}: {field}: column {missing[0]!r} not found (available: {shown})")


def load_dataset(spec: DatasetSpec, suite: SuiteSpec) -> LoadedDataset:
    """Load one dataset of ``suite``, verify its pin, and attach sample ids."""
    index = suite.datasets.index(spec)
    where = f"suite {suite.source}: datasets[{index}] ({spec.name})"
    if spec.loader is not None:
        if spec.loader not in DATASET_LOADERS:
            raise DataError(f"{where}: loader: {DATASET_LOADERS.unknown_message(spec.loader)}")
        frame = DATASET_LOADERS.get(spec.loader)(spec.split)
        source, sha = f"loader:{spec.loader}:{spec.split}", frame_sha256(frame)
        if spec.sha256 and spec.sha256 != sha:
            raise ChecksumError(f"{where}: sha256 mismatch (suite pins {spec.sha256[:12]}…, data has {sha[:12]}…)")
    else:
        assert spec.path is not None
        path = suite.resolve(spec.path)
        sha = sha256_file(path) if path.is_file() else ""
        if spec.sha256 and sha and spec.sha256 != sha:
            raise ChecksumError(f"{where}: {spec.path}: sha256 mismatch (suite pins {spec.sha256[:12]}…, file has {sha[:12]}…)")
        frame, source = _read_file(spec, path, where), str(path)
    if spec.id_column:
        _check_columns(frame, [spec.id_column], "id_column", where)
        frame = frame.rename(columns={spec.id_column: SAMPLE_ID}) if spec.id_column != SAMPLE_ID else frame
        if frame[SAMPLE_ID].duplicated().any():
            raise DataError(f"{where}: id_column: {spec.id_column!r} has duplicate ids")
    elif SAMPLE_ID not in frame.columns:
        frame = frame.assign(**{SAMPLE_ID: np.arange(len(frame), dtype=np.int64)})
    reserved = {SAMPLE_ID, spec.label, spec.timestamp, *spec.logged_columns(list(frame.columns))}  # logged outputs are no features
    features = spec.features or [c for c in frame.columns if c not in reserved]
    _check_columns(frame, features, "features", where)
    if spec.label is not None:
        _check_columns(frame, [spec.label], "label", where)
    if spec.timestamp is not None:
        _check_columns(frame, [spec.timestamp], "timestamp", where)
    if spec.label is None and spec.use == "evaluation":
        raise DataError(f"{where}: label: an evaluation dataset needs a label column")
    check_values(frame, list(features), spec.allow_nan, where)
    if spec.label is not None:
        labelled = frame[spec.label].notna()
        if spec.use == "evaluation" and not labelled.all():
            raise DataError(f"{where}: column {spec.label}: {int((~labelled).sum())} missing labels in {len(frame)} rows (an evaluation dataset needs every label)")
        if suite.task == "classification" and suite.classes is not None:
            check_labels(frame[spec.label], suite.classes, where, "the suite's classes")
    return LoadedDataset(spec.name, frame.reset_index(drop=True), list(features), spec.label, sha, source)


def check_values(frame: pd.DataFrame, features: list[str], allow_nan: list[str], where: str) -> None:
    """Refuse data no model should see: no rows, no features, NaN outside ``allow_nan``, any inf.

    Raises:
        DataError: one line naming ``where``, the first bad column and the counts.
    """
    if not features:
        raise DataError(f"{where}: features: expected at least one feature column, got none")
    if len(frame) == 0:
        raise DataError(f"{where}: expected at least one row, got 0 rows")
    unknown = [c for c in allow_nan if c not in features]
    if unknown:
        raise DataError(f"{where}: allow_nan: expected feature columns, got {unknown[0]!r}")
    bad = []
    for column in features:
        series = frame[column]
        nan = 0 if column in allow_nan else int(series.isna().sum())
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        inf = int(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)).sum()) if numeric and not pd.api.types.is_complex_dtype(series) else 0
        if nan or inf:
            bad.append((column, nan, inf))
    if not bad:
        return
    column, nan, inf = bad[0]
    counts = " and ".join(part for part in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if part)
    how = "; ".join(part for part in ("inf is never allowed" if inf else "", f"allow NaN with allow_nan: [{column}]" if nan and inf else
                                      f"allow with allow_nan: [{column}]" if nan else "") if part)
    more = f"; {len(bad) - 1} more column{'s' if len(bad) > 2 else ''} too" if len(bad) > 1 else ""
    raise DataError(f"{where}: column {column}: {counts} values in {len(frame)} rows ({how}){more}")


def check_labels(values: pd.Series, classes: list[int | str], where: str, what: str, hint: str = "") -> None:
    """Every present label of ``values`` is one of ``classes`` (``what`` says whose classes), else one :class:`DataError` line."""
    present = values.dropna()
    outside = present[~present.isin(classes)]
    if len(outside):
        example = outside.iloc[0].item() if hasattr(outside.iloc[0], "item") else outside.iloc[0]
        raise DataError(f"{where}: column {values.name}: {len(outside)} labels outside {what} {list(classes)} (e.g. {example!r}){hint}")


def check_reference_labels(suite: SuiteSpec, classes: list[int | str], reference: LoadedDataset | None = None) -> None:
    """The drift reference's labels are among the classes the evaluation data established (suites without ``classes:``).

    ``reference`` is the reference dataset when the caller has loaded it already (a run's plan has).
    """
    if suite.drift is None or suite.task != "classification" or suite.classes is not None:
        return
    spec = next((d for d in suite.datasets if d.name == suite.drift.reference), None)
    if spec is None or spec.label is None:
        return
    reference = reference if reference is not None else load_dataset(spec, suite)
    where = f"suite {suite.source}: datasets[{suite.datasets.index(spec)}] ({spec.name})"
    check_labels(reference.frame[spec.label], classes, where, "the evaluation data's classes", "; declare classes: to widen them")


def encode_labels(values: pd.Series, classes: list[int | str] | None, where: str) -> tuple[np.ndarray, list[int | str]]:
    """Class indices 0..k-1 for ``values`` and the class list they index into."""
    known = list(classes) if classes is not None else sorted(pd.unique(values).tolist())
    lookup = {c: i for i, c in enumerate(known)}
    codes = values.map(lookup)
    if codes.isna().any():
        bad = values[codes.isna()].iloc[0]
        raise DataError(f"{where}: label value {bad!r} is not one of the classes {known}")
    return codes.to_numpy(dtype=np.int64), known
