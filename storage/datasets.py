"""Versioned datasets: read a suite's dataset from Parquet/CSV or a built-in loader.

Every dataset gets a content checksum recorded with each run. A file's checksum
is its bytes' sha256 (checked against the suite's pin when one is given); a
built-in loader's is the sha256 of its canonical table content. Built-in loaders
split deterministically with a fixed seed, so a split's version never depends
on a suite's seed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from storage import csv_files
from storage.checksums import frame_sha256, sha256_file
from storage.dataset_files import file_columns, file_rows, read_columns, release_freed_memory, streamed_value_problems, value_problems
from suite.errors import ChecksumError, DataError
from suite.registry import Registry
from suite.settings import load_settings
from suite.spec import DatasetSpec, SuiteSpec

SAMPLE_ID = "sample_id"
__all__ = ["DATASET_LOADERS", "SAMPLE_ID", "LoadedDataset", "check_labels", "check_reference_labels", "check_values", "encode_labels", "frame_sha256", "load_dataset", "sha256_file"]

Loader = Callable[[str], pd.DataFrame]
DATASET_LOADERS: Registry[Loader] = Registry("dataset loader")


class LoadedDataset:
    """A dataset with what a run needs to know about it: its rows in memory, or all but its features.

    An in-memory dataset (a loader, a CSV) holds its whole frame. A ``.parquet`` file's
    dataset (``feature_file`` set) holds only its other columns (:attr:`meta`: sample ids,
    label, slice and timestamp columns); its features stay in the file, where workers read
    their row ranges and stages read the columns they need (:meth:`select`). :attr:`frame`
    still gives the whole frame, reading the features back: a stage that uses it holds them all.

    Args:
        name: the dataset's name in the suite.
        frame: every column, or (with ``feature_file``) every column but the features.
        features: the feature columns, in model order.
        label: the label column, if any.
        sha256: the content checksum recorded with runs.
        source: where it came from (a path or ``loader:<name>:<split>``).
        feature_file: the Parquet file the features are read from, row for row; None when ``frame`` has them.
        order: the whole frame's column order (with ``feature_file``).
    """

    __slots__ = ("name", "_frame", "features", "label", "sha256", "source", "feature_file", "_order")

    def __init__(self, name: str, frame: pd.DataFrame, features: list[str], label: str | None, sha256: str, source: str,
                 feature_file: str | None = None, order: list[str] | None = None) -> None:
        self.name, self._frame, self.features, self.label, self.sha256, self.source = name, frame, features, label, sha256, source
        self.feature_file, self._order = feature_file, order

    def __repr__(self) -> str:
        held = f"features in {self.feature_file}" if self.feature_file else "in memory"
        return f"LoadedDataset({self.name!r}, {self.rows} rows, {len(self.features)} features, {held})"

    @property
    def meta(self) -> pd.DataFrame:
        """Every column but (for a file-held dataset) the features: sample ids, label, slice keys; the whole frame otherwise."""
        return self._frame

    @property
    def frame(self) -> pd.DataFrame:
        """The whole frame; for a file-held dataset the features are read from the file on every call (costly: prefer :meth:`select`)."""
        if self.feature_file is None:
            return self._frame
        return self.select(self._order or [*self._frame.columns, *self.features])

    def select(self, columns: list[str], *, present_only: bool = False) -> pd.DataFrame:
        """``columns`` (features read from the file only when named), in the order given, all rows.

        Raises:
            DataError: a column the dataset lacks (unless ``present_only``: then it is left out).
        """
        names = list(dict.fromkeys(columns))
        known = {*self._frame.columns, *(self.features if self.feature_file else ())}
        missing = [c for c in names if c not in known]
        if missing and not present_only:
            raise DataError(f"dataset {self.name}: column {missing[0]!r} not found (available: {', '.join(map(str, list(known)[:12]))})")
        held = [c for c in names if c in self._frame.columns]
        from_file = [c for c in names if c not in self._frame.columns and c in self.features] if self.feature_file else []
        part = self._frame[held]
        if from_file:
            part = pd.concat([part, read_columns(Path(self.feature_file or ""), from_file)], axis=1)
        return part[[c for c in names if c in part.columns]]

    @property
    def rows(self) -> int:
        """Number of rows."""
        return len(self._frame)

    @property
    def sample_ids(self) -> np.ndarray:
        """Stable per-row ids (int64) that pair clean and perturbed results."""
        return self._frame[SAMPLE_ID].to_numpy(dtype=np.int64)


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


def _read_file(spec: DatasetSpec, path: Path, where: str, columns: list[str] | None = None) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(f"{where}: path: file {path} not found")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path, columns=columns)
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error for the user
        raise DataError(f"{where}: path: cannot read {path.name} ({type(exc).__name__}: {exc})") from None
    raise DataError(f"{where}: path: expected a .parquet or .csv file, got {path.name}")


def _file_columns(path: Path, where: str) -> list[str]:
    try:
        return file_columns(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a data error for the user
        raise DataError(f"{where}: path: cannot read {path.name} ({type(exc).__name__}: {exc})") from None


def _check_columns(columns: list[str], names: list[str], field: str, where: str) -> None:
    missing = [c for c in names if c not in columns]
    if missing:
        shown = ", ".join(map(str, columns[:12]))
        raise DataError(f"{where}: {field}: column {missing[0]!r} not found (available: {shown})")


def load_dataset(spec: DatasetSpec, suite: SuiteSpec) -> LoadedDataset:
    """Load one dataset of ``suite``, verify its pin, and attach sample ids.

    A ``.parquet`` file's features stay in the file (see :class:`LoadedDataset`): its other
    columns are read, its values checked one record batch at a time. So do a large CSV's,
    in its Parquet copy (:mod:`storage.csv_files`); a small CSV is read whole.
    """
    index = suite.datasets.index(spec)
    where = f"suite {suite.source}: datasets[{index}] ({spec.name})"
    held: Path | None = None  # the file whose features stay there
    if spec.loader is not None:
        if spec.loader not in DATASET_LOADERS:
            raise DataError(f"{where}: loader: {DATASET_LOADERS.unknown_message(spec.loader)}")
        frame = DATASET_LOADERS.get(spec.loader)(spec.split)
        source, sha = f"loader:{spec.loader}:{spec.split}", frame_sha256(frame)
        if spec.sha256 and spec.sha256 != sha:
            raise ChecksumError(f"{where}: sha256 mismatch (suite pins {spec.sha256[:12]}…, data has {sha[:12]}…)")
        columns = [str(c) for c in frame.columns]
    else:
        if spec.path is None:
            raise DataError(f"{where}: expected a path or a loader, got neither")
        path = suite.resolve(spec.path)
        sha = sha256_file(path) if path.is_file() else ""
        if spec.sha256 and sha and spec.sha256 != sha:
            raise ChecksumError(f"{where}: {spec.path}: sha256 mismatch (suite pins {spec.sha256[:12]}…, file has {sha[:12]}…)")
        source = str(path)
        copy = path if path.suffix == ".parquet" and path.is_file() else _csv_copy(path, sha)
        if copy is not None:  # features stay in the file (a large CSV's Parquet copy)
            held, columns = copy, _file_columns(copy, where)
            in_file = set(columns)
            frame = pd.DataFrame()
        else:
            frame = _read_file(spec, path, where)
            columns = [str(c) for c in frame.columns]
    if spec.id_column:
        _check_columns(columns, [spec.id_column], "id_column", where)
        columns = [SAMPLE_ID if c == spec.id_column else c for c in columns]
    elif SAMPLE_ID not in columns:
        columns = [*columns, SAMPLE_ID]
    reserved = {SAMPLE_ID, spec.label, spec.timestamp, *spec.logged_columns(columns)}  # logged outputs are no features
    features = list(spec.features or [c for c in columns if c not in reserved])
    if held is not None:  # read all but the features: ids, label, slice keys
        _check_columns(columns, features, "features", where)
        sliced_by = {s.column for s in suite.slices}  # a feature that slices results is read too: every run needs its masks
        keep = [c for c in columns if c not in features or c in (SAMPLE_ID, spec.label, spec.timestamp) or c in sliced_by]
        on_file = [spec.id_column if c == SAMPLE_ID and spec.id_column else c for c in keep]
        frame = _read_file(spec, held, where, [c for c in on_file if c in in_file])
        if frame.shape[1] == 0:  # nothing but features: the rows still count
            frame = pd.DataFrame(index=pd.RangeIndex(file_rows(held)))
    if spec.id_column:
        frame = frame.rename(columns={spec.id_column: SAMPLE_ID}) if spec.id_column != SAMPLE_ID else frame
        if frame[SAMPLE_ID].duplicated().any():
            raise DataError(f"{where}: id_column: {spec.id_column!r} has duplicate ids")
    elif SAMPLE_ID not in frame.columns:
        frame = frame.reset_index(drop=True).assign(**{SAMPLE_ID: np.arange(len(frame), dtype=np.int64)})
    _check_columns(columns, features, "features", where)
    if spec.label is not None:
        _check_columns(columns, [spec.label], "label", where)
    if spec.timestamp is not None:
        _check_columns(columns, [spec.timestamp], "timestamp", where)
    if spec.label is None and spec.use == "evaluation":
        raise DataError(f"{where}: label: an evaluation dataset needs a label column")
    if held is None:
        check_values(frame, features, spec.allow_nan, where)
    else:
        _check_value_spec(features, spec.allow_nan, where)
        bad, rows = streamed_value_problems(held, features, spec.allow_nan)
        _refuse_values(bad, rows, where)
    if spec.label is not None:
        labelled = frame[spec.label].notna()
        if spec.use == "evaluation" and not labelled.all():
            raise DataError(f"{where}: column {spec.label}: {int((~labelled).sum())} missing labels in {len(frame)} rows (an evaluation dataset needs every label)")
        if suite.task == "classification" and suite.classes is not None:
            check_labels(frame[spec.label], suite.classes, where, "the suite's classes")
    if held is None:
        return LoadedDataset(spec.name, frame.reset_index(drop=True), features, spec.label, sha, source)
    frame = frame.reset_index(drop=True)
    release_freed_memory()  # what reading and checking the file freed, not kept under the rest of the run
    return LoadedDataset(spec.name, frame, features, spec.label, sha, source, str(held), columns)


def _csv_copy(path: Path, sha: str) -> Path | None:
    """A large CSV's Parquet copy in the prediction cache's home (:mod:`storage.csv_files`); None for a small one, read whole."""
    if path.suffix.lower() != ".csv" or not path.is_file() or path.stat().st_size < csv_files.IN_MEMORY_BYTES:
        return None
    return csv_files.parquet_copy(path, sha, load_settings().cache_dir / "csv")


def _check_value_spec(features: list[str], allow_nan: list[str], where: str) -> None:
    if not features:
        raise DataError(f"{where}: features: expected at least one feature column, got none")
    unknown = [c for c in allow_nan if c not in features]
    if unknown:
        raise DataError(f"{where}: allow_nan: expected feature columns, got {unknown[0]!r}")


def check_values(frame: pd.DataFrame, features: list[str], allow_nan: list[str], where: str) -> None:
    """Refuse data no model should see: no rows, no features, NaN outside ``allow_nan``, any inf.

    Raises:
        DataError: one line naming ``where``, the first bad column and the counts.
    """
    _check_value_spec(features, allow_nan, where)
    if len(frame) == 0:
        raise DataError(f"{where}: expected at least one row, got 0 rows")
    _refuse_values([(c, *counts) for c, counts in value_problems(frame, features, allow_nan).items()], len(frame), where)


def _refuse_values(bad: list[tuple[str, int, int]], rows: int, where: str) -> None:
    if rows == 0:
        raise DataError(f"{where}: expected at least one row, got 0 rows")
    if not bad:
        return
    column, nan, inf = bad[0]
    counts = " and ".join(part for part in (f"{nan} NaN" if nan else "", f"{inf} inf" if inf else "") if part)
    how = "; ".join(part for part in ("inf is never allowed" if inf else "", f"allow NaN with allow_nan: [{column}]" if nan and inf else
                                      f"allow with allow_nan: [{column}]" if nan else "") if part)
    more = f"; {len(bad) - 1} more column{'s' if len(bad) > 2 else ''} too" if len(bad) > 1 else ""
    raise DataError(f"{where}: column {column}: {counts} values in {rows} rows ({how}){more}")


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
