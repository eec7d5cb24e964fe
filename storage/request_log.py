"""Request logs for shadow traffic: read and validate them, and append to them in batches.

A request log has one row per production request: ``request_id``, ``timestamp``,
the input features (named columns, or a ``features`` JSON object per row), the
production output (``prediction`` and/or a ``scores`` list), ``latency_ms`` and
an optional ``label`` (or a separate labels file joined by ``request_id``).
Other columns (the mirror's ``candidate_*`` answers, ``path``, ``status``) pass
through untouched.

Reading never stops at a bad row. Every row gets at most one quarantine
``reason``, checked in this order, and the first that applies wins:

* ``unparseable_json`` — a JSONL line (or a ``features`` cell) that is not a JSON object;
* ``missing_field:<column>`` — a required field is absent or null;
* ``wrong_type:<column>`` — a field of the wrong type (or a ``scores`` list of the wrong length);
* ``non_finite:<column>`` — NaN or ±inf in a numeric field;
* ``duplicate_request_id`` — a request id already seen on an earlier valid row (the first is kept);
* ``no_candidate_answer:<status>`` — only when the mirror's logged candidate answers are
  used (``require_candidate``): the candidate timed out, failed or answered nothing usable.

Appending to a log as requests arrive is :class:`storage.log_writer.LogWriter`'s job.

Quarantined rows go to a side Parquet file (``row_number``, ``request_id``,
``reason``, ``raw``) and are counted; ``rows_in == rows_scored + rows_quarantined``
always holds.

Example:
    >>> import tempfile, pathlib, pandas as pd
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "log.jsonl").write_text(
    ...     '{"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "x": 1.0, "prediction": 1, "latency_ms": 3.5}\\n'
    ...     'not json\\n')
    >>> log = read_request_log(d / "log.jsonl")
    >>> (log.counts.rows_scored, log.counts.rows_quarantined, log.counts.by_reason)
    (1, 1, {'unparseable_json': 1})
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from storage.log_writer import write_atomic as _write_atomic
from suite.errors import DataError

REQUIRED = ("request_id", "timestamp", "latency_ms")
OUTPUT_COLUMNS = ("prediction", "scores")
QUARANTINE_SCHEMA = pa.schema(
    [("row_number", pa.int64()), ("request_id", pa.string()), ("reason", pa.string()), ("raw", pa.string())]
)
_NOT_FEATURES = {"request_id", "timestamp", "latency_ms", "label", "prediction", "scores", "features", "_raw"}
_MIRROR_COLUMNS = {"method", "path", "status"}


@dataclass(frozen=True)
class LogCounts:
    """How many rows came in, were kept for scoring, and were quarantined (by reason)."""

    rows_in: int
    rows_scored: int
    rows_quarantined: int
    by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedLog:
    """A validated request log.

    Attributes:
        frame: valid rows in log order: ``request_id`` (str), ``timestamp`` (UTC),
            one column per feature, ``prediction``, ``scores`` (lists, when logged),
            ``latency_ms``, ``label`` (when known) and pass-through columns.
        quarantined: rejected rows: ``row_number``, ``request_id``, ``reason``, ``raw``.
        counts: row counts, with quarantine reasons.
        feature_names: the feature columns of ``frame``.
        quarantine_path: where ``quarantined`` was written, if anywhere.
    """

    frame: pd.DataFrame
    quarantined: pd.DataFrame
    counts: LogCounts
    feature_names: tuple[str, ...]
    quarantine_path: Path | None = None

    def production_scores(self) -> np.ndarray | None:
        """Production scores as an ``(n, k)`` float array, or None when no scores were logged."""
        if "scores" not in self.frame or self.frame["scores"].isna().any():
            return None
        return np.asarray(self.frame["scores"].tolist(), dtype=float).reshape(len(self.frame), -1)

    def production_predictions(self) -> np.ndarray:
        """Production predictions (``prediction``, else the argmax of ``scores``)."""
        return self.frame["prediction"].to_numpy()


def read_request_log(
    path: str | Path,
    *,
    features: Sequence[str] | None = None,
    labels_path: str | Path | None = None,
    quarantine_path: str | Path | None = None,
    write_quarantine: bool = True,
    require_candidate: bool = False,
) -> ParsedLog:
    """Read, validate and quarantine a request log.

    Args:
        path: a ``.parquet`` or ``.jsonl`` file, or a folder of Parquet part files
            (what :class:`LogWriter` writes).
        features: feature names to expect; by default the named feature columns,
            or the keys of the first parseable ``features`` object.
        labels_path: optional Parquet/JSONL/CSV file with ``request_id`` and ``label``.
        quarantine_path: where to write quarantined rows; default ``<log>.quarantine.parquet``.
        write_quarantine: set False to keep quarantined rows in memory only.
        require_candidate: also quarantine rows without a usable logged candidate answer
            (``candidate_scores``, or ``candidate_prediction`` when no scores were logged).

    Returns:
        The valid rows, the quarantined rows and their counts.

    Raises:
        DataError: the log file is missing or has none of the required columns.
    """
    path = Path(path)
    raw = _read_raw(path)
    rows_in = len(raw)
    frame, reasons, names = _validate(raw, path, features, None if labels_path is None else Path(labels_path))
    if require_candidate:
        reasons = reasons.where(reasons.notna(), _candidate_reasons(frame, path))
    bad = reasons.notna().to_numpy()
    quarantined = _quarantine_frame(raw, frame, reasons, bad)
    kept = frame.loc[~bad].drop(columns=["_raw"]).reset_index(drop=True)
    counts = LogCounts(
        rows_in=rows_in,
        rows_scored=len(kept),
        rows_quarantined=len(quarantined),
        by_reason=dict(sorted(Counter(quarantined["reason"]).items())),
    )
    assert counts.rows_in == counts.rows_scored + counts.rows_quarantined, counts
    written: Path | None = None
    if write_quarantine:
        written = Path(quarantine_path) if quarantine_path else _default_quarantine_path(path)
        _write_atomic(pa.Table.from_pandas(quarantined, schema=QUARANTINE_SCHEMA, preserve_index=False), written)
    return ParsedLog(kept, quarantined, counts, tuple(names), written)


def write_request_log(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a request-log frame as Parquet (by suffix ``.parquet``) or JSONL, atomically.

    ``timestamp`` is written as ISO-8601 in JSONL; lists and dicts stay JSON.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        _write_atomic(pa.Table.from_pandas(frame, preserve_index=False), path)
        return path
    tmp = path.with_name(f".{path.name}.tmp")
    out = frame.copy()
    if "timestamp" in out and pd.api.types.is_datetime64_any_dtype(out["timestamp"]):
        out["timestamp"] = out["timestamp"].map(lambda t: t.isoformat() if pd.notna(t) else None)
    with tmp.open("w") as fh:
        for record in out.to_dict(orient="records"):
            fh.write(json.dumps(record, default=_jsonable) + "\n")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------- reading


def _read_raw(path: Path) -> pd.DataFrame:
    """The log as a frame of raw cells plus ``_raw`` (the row as text, for quarantine)."""
    if not path.exists():
        raise DataError(f"request log {path}: expected a .parquet/.jsonl file or a folder of parts, got no such path")
    if path.is_dir():
        parts = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
        frames = [pq.read_table(p).to_pandas() for p in parts]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({c: [] for c in REQUIRED})
    elif path.suffix == ".parquet":
        frame = pq.read_table(path).to_pandas()
    elif path.suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    else:
        raise DataError(f"request log {path}: expected suffix .parquet or .jsonl, got {path.suffix!r}")
    frame = frame.reset_index(drop=True)
    frame["_raw"] = [json.dumps(r, default=_jsonable) for r in frame.to_dict(orient="records")]
    return frame


def _read_jsonl(path: Path) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        records.append({"_raw": line, "_unparseable": not isinstance(obj, dict), **(obj if isinstance(obj, dict) else {})})
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame({"_raw": [], "_unparseable": []})
    return frame


class _Reasons:
    """The first quarantine reason of each row (None while the row is valid)."""

    def __init__(self, index: pd.Index) -> None:
        self.series = pd.Series([None] * len(index), index=index, dtype=object)

    def flag(self, mask: pd.Series | np.ndarray | list[bool], reason: str) -> None:
        """Give ``reason`` to rows under ``mask`` that have none yet."""
        hit = pd.Series(np.asarray(mask, dtype=bool), index=self.series.index)
        self.series.loc[hit & self.series.isna()] = reason

    @property
    def valid(self) -> pd.Series:
        return self.series.isna()


def _validate(
    raw: pd.DataFrame, path: Path, features: Sequence[str] | None, labels_path: Path | None
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Normalise columns and give each bad row its first failing reason (vectorised per column)."""
    frame = raw.copy()
    reasons = _Reasons(frame.index)
    if "_unparseable" in frame:
        reasons.flag(frame.pop("_unparseable").fillna(False).astype(bool), "unparseable_json")
    present = set(frame.columns)
    if len(frame) and not present & set(REQUIRED) and not present & set(OUTPUT_COLUMNS):
        raise DataError(f"request log {path}: expected columns {', '.join(REQUIRED)} and prediction/scores, got {sorted(present - {'_raw'})}")
    for column in (*REQUIRED, *OUTPUT_COLUMNS):
        if column not in frame:
            frame[column] = None
    frame, names = _expand_features(frame, reasons, features)
    _check_required(frame, reasons, present, names)
    _check_ids_times_numbers(frame, reasons)
    frame = _check_scores(frame, reasons, "scores" in present)
    for name in names:  # numbers (finite) or strings, one kind per column
        frame[name], wrong, non_finite = _feature_column(frame[name])
        reasons.flag(wrong, f"wrong_type:{name}")
        reasons.flag(non_finite, f"non_finite:{name}")
    if labels_path is not None:
        frame = _join_labels(frame, labels_path)
    if "label" in frame:
        _check_label(frame, reasons)
    # only rows still valid take part: the first valid row with an id is kept
    valid_ids = frame["request_id"].where(reasons.valid)
    reasons.flag(valid_ids.notna() & valid_ids.duplicated(keep="first"), "duplicate_request_id")

    ok = reasons.valid
    pred = frame["prediction"]
    if ok.any() and np.all(np.mod(pred[ok].to_numpy(dtype=float), 1) == 0):
        frame["prediction"] = pred.where(ok, 0).round().astype("int64")
    ordered = ["request_id", "timestamp", *names, *[c for c in ("prediction", "scores", "latency_ms", "label") if c in frame]]
    rest = [c for c in frame.columns if c not in ordered]
    return frame[ordered + rest], reasons.series, names


def _expand_features(frame: pd.DataFrame, reasons: _Reasons, features: Sequence[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """Feature names, with a ``features`` JSON object per row turned into named columns."""
    if "features" not in frame:
        names = list(features) if features else [c for c in frame.columns if c not in _NOT_FEATURES and not c.startswith("candidate_") and c not in _MIRROR_COLUMNS]
        return frame, names
    parsed = [_as_object(v) for v in frame["features"]]
    reasons.flag([p is _BAD for p in parsed], "unparseable_json")
    reasons.flag([p is None for p in parsed], "missing_field:features")
    objects = [p if isinstance(p, dict) else {} for p in parsed]
    names = list(features) if features else next((list(p) for p in objects if p), [])
    frame = frame.drop(columns=["features"])
    for name in names:
        frame[name] = [o.get(name) for o in objects]
    return frame, names


def _check_required(frame: pd.DataFrame, reasons: _Reasons, present: set[str], names: list[str]) -> None:
    for column in REQUIRED:
        reasons.flag(frame[column].isna(), f"missing_field:{column}")
    has_pred, has_scores = frame["prediction"].notna(), frame["scores"].map(_is_present)
    logged = [c for c in OUTPUT_COLUMNS if c in present]
    if logged == ["scores"]:
        reasons.flag(~has_scores, "missing_field:scores")
    elif "scores" in logged:  # both logged: either one will do
        reasons.flag(~has_pred & ~has_scores, "missing_field:prediction")
    else:
        reasons.flag(~has_pred, "missing_field:prediction")
    for name in names:
        if name not in frame:
            frame[name] = None
        reasons.flag(frame[name].isna(), f"missing_field:{name}")


def _check_ids_times_numbers(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Request ids are strings or integers; timestamps parse; latency and prediction are finite numbers."""
    ids = frame["request_id"]
    reasons.flag(~ids.map(lambda v: v is None or isinstance(v, (str, int, np.integer)) and not isinstance(v, bool)), "wrong_type:request_id")
    frame["request_id"] = ids.map(lambda v: None if v is None else str(v))
    reasons.flag(frame["request_id"] == "", "missing_field:request_id")
    ts = _to_utc(frame["timestamp"])
    reasons.flag(ts.isna() & frame["timestamp"].notna(), "wrong_type:timestamp")
    frame["timestamp"] = ts
    for column in ("latency_ms", "prediction"):
        values, wrong = _to_float(frame[column])
        reasons.flag(wrong, f"wrong_type:{column}")
        reasons.flag(~np.isfinite(values) & frame[column].notna().to_numpy() & ~wrong, f"non_finite:{column}")
        frame[column] = values
    reasons.flag(frame["latency_ms"] < 0, "wrong_type:latency_ms")


def _check_scores(frame: pd.DataFrame, reasons: _Reasons, logged: bool) -> pd.DataFrame:
    """Scores are non-empty lists of finite numbers, one length (the most common) for the whole log."""
    if not logged:
        return frame.drop(columns=["scores"])
    scores = frame["scores"].map(_as_float_list)
    reasons.flag(scores.map(lambda s: s is _BAD), "wrong_type:scores")
    lengths = scores.map(lambda s: len(s) if isinstance(s, np.ndarray) else -1)
    valid_lengths = lengths[(lengths > 0) & reasons.valid]
    if len(valid_lengths):
        k = int(valid_lengths.mode().iloc[0])
        reasons.flag((lengths >= 0) & (lengths != k), "wrong_type:scores")
    reasons.flag(scores.map(lambda s: isinstance(s, np.ndarray) and not np.isfinite(s).all()), "non_finite:scores")
    frame["scores"] = scores.map(lambda s: s.tolist() if isinstance(s, np.ndarray) else None)
    missing_pred = frame["prediction"].isna() & frame["scores"].notna()
    frame.loc[missing_pred, "prediction"] = [float(np.argmax(s)) for s in frame.loc[missing_pred, "scores"]]
    return frame


def _check_label(frame: pd.DataFrame, reasons: _Reasons) -> None:
    """Labels may be absent (null) but, where given, must be finite numbers or strings."""
    labels = frame["label"]
    numeric, wrong = _to_float(labels)
    strings = labels.map(lambda v: isinstance(v, str)).to_numpy()
    wrong = wrong & ~strings
    reasons.flag(wrong, "wrong_type:label")
    reasons.flag(labels.notna().to_numpy() & ~strings & ~wrong & ~np.isfinite(numeric), "non_finite:label")
    if not strings.any():
        frame["label"] = numeric


def _join_labels(frame: pd.DataFrame, labels_path: Path) -> pd.DataFrame:
    """Labels from a separate file, by request id (the first label per id; the log's own label wins)."""
    if labels_path.suffix == ".parquet":
        labels = pq.read_table(labels_path).to_pandas()
    elif labels_path.suffix == ".csv":
        labels = pd.read_csv(labels_path)
    else:
        labels = pd.read_json(labels_path, lines=True)
    missing = {"request_id", "label"} - set(labels.columns)
    if missing:
        raise DataError(f"labels file {labels_path}: expected columns request_id and label, got {sorted(labels.columns)}")
    labels = labels.assign(request_id=labels["request_id"].astype(str)).drop_duplicates("request_id", keep="first")
    mapping = labels.set_index("request_id")["label"]
    joined = frame["request_id"].map(mapping)
    out = frame.copy()
    out["label"] = out["label"].where(out["label"].notna(), joined) if "label" in out else joined
    return out


def _candidate_reasons(frame: pd.DataFrame, path: Path) -> pd.Series:
    """``no_candidate_answer:<status>`` for rows whose logged candidate answer is missing, failed or not finite."""
    column = "candidate_scores" if "candidate_scores" in frame else "candidate_prediction" if "candidate_prediction" in frame else None
    if column is None:
        raise DataError(f"request log {path}: candidate_scores: expected the mirror's logged candidate answers, got no such column")
    status = frame["candidate_status"] if "candidate_status" in frame else pd.Series("ok", index=frame.index)

    def reason(value: Any, state: Any) -> str | None:
        state = state if _is_present(state) else "missing"
        try:
            numbers = np.asarray(value if _is_present(value) else [], dtype=float).reshape(-1)
        except (TypeError, ValueError):
            numbers = np.asarray([np.nan])
        if state != "ok" or numbers.size == 0 or not np.isfinite(numbers).all():
            return f"no_candidate_answer:{state if state != 'ok' else 'empty'}"
        return None

    return pd.Series([reason(v, st) for v, st in zip(frame[column], status, strict=True)], index=frame.index, dtype=object)


def _quarantine_frame(raw: pd.DataFrame, frame: pd.DataFrame, reasons: pd.Series, bad: np.ndarray) -> pd.DataFrame:
    ids = frame["request_id"].where(frame["request_id"].notna(), None)
    return pd.DataFrame(
        {
            "row_number": np.flatnonzero(bad).astype("int64"),
            "request_id": ids[bad].astype(object).tolist(),
            "reason": reasons[bad].astype(str).tolist(),
            "raw": raw["_raw"][bad].astype(str).tolist(),
        }
    )


# ---------------------------------------------------------------- cell helpers

_BAD = object()


def _is_present(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return True


def _as_object(v: Any) -> Any:
    """A features cell as a dict; None when absent; ``_BAD`` when unparseable."""
    if not _is_present(v):
        return None
    if isinstance(v, dict):
        return v
    if isinstance(v, str):
        try:
            obj = json.loads(v)
        except ValueError:
            return _BAD
        return obj if isinstance(obj, dict) else _BAD
    return _BAD


def _as_float_list(v: Any) -> Any:
    if not _is_present(v):
        return None
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return _BAD
    if isinstance(v, (list, tuple, np.ndarray)) and len(v) > 0:
        if all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in v):
            return np.asarray(v, dtype=float)
    return _BAD


def _to_float(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Float values and a mask of present cells that are not numbers (strings, lists, booleans)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=float, na_value=np.nan), np.zeros(len(column), dtype=bool)
    is_number = column.map(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)).to_numpy()
    present = column.map(_is_present).to_numpy()
    values = np.array([float(v) if ok else np.nan for v, ok in zip(column, is_number)], dtype=float)
    return values, present & ~is_number


def _feature_column(column: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """A feature column as numbers or strings; the minority kind (and lists/dicts) are wrong types."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return pd.Series(values, index=column.index), np.zeros(len(column), bool), column.notna().to_numpy() & ~np.isfinite(values)
    values, not_number = _to_float(column)
    present = column.map(_is_present).to_numpy()
    strings = column.map(lambda v: isinstance(v, str)).to_numpy()
    numbers = present & ~not_number
    if strings.sum() > numbers.sum():
        return column.where(strings, None), present & ~strings, np.zeros(len(column), bool)
    return pd.Series(values, index=column.index), present & not_number, numbers & ~np.isfinite(values)


def _to_utc(column: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.dt.tz_localize("UTC") if column.dt.tz is None else column.dt.tz_convert("UTC")
    as_text = column.map(lambda v: v if isinstance(v, (str, pd.Timestamp)) else None)
    return pd.to_datetime(as_text, utc=True, errors="coerce", format="ISO8601")


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.integer, np.floating)):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def _default_quarantine_path(path: Path) -> Path:
    stem = path.name if path.is_dir() else path.stem
    return path.parent / f"{stem}.quarantine.parquet"
