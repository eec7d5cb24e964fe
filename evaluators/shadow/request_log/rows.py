"""What a replayed request-log row must carry, and the check of one row on its own (:func:`validate_row`).

A row is one production request. :class:`LogSchema` is built from the suite (the
candidate's feature names, the classes, the slice columns) and every row is
checked against it **on its own**: no column is inferred from other rows, so a
key one row carries and the others do not changes nothing for the others.

Columns a row may carry:

* ``request_id`` (string or integer), ``timestamp`` (ISO-8601 text or a datetime;
  naive means UTC), ``latency_ms`` (finite, >= 0): required;
* the features, either as flat keys named like the suite's features, or as a
  ``features`` object (by name) or list (in the suite's feature order), or a JSON
  string of either (what the mirror writes); each row picks its own form;
* ``prediction`` and/or ``scores`` (one probability per class): at least one;
  a classification prediction must be one of the suite's classes and is stored as
  the class's index (``scores``' argmax when only scores are logged);
* ``label`` (optional; a class outside the suite's classes counts as unlabelled);
* the mirror's ``candidate_prediction``, ``candidate_scores``,
  ``candidate_latency_ms`` and ``candidate_status`` (the names and statuses are
  :mod:`evaluators.shadow.request_log.format`'s);
* columns of the suite's slices.

**Extra keys are ignored**, row by row (a production log carries paths, user
agents and the like): they are neither features nor a reason to quarantine.
NaN or null counts as missing; ±inf is ``non_finite``.

Each bad row gets one reason, the first that applies: a missing column
(``missing_field:<column>``; a ``features`` cell that is no JSON object or list is
``unparseable_json``), else the first wrong or non-finite value column by column
(``wrong_type:<column>``, ``non_finite:<column>``,
``prediction_not_a_class:<value>``) in the order request_id, timestamp,
latency_ms, prediction/scores, features, label; then
``no_candidate_answer:<status>`` (only when the mirror's answers are used); then
``duplicate_request_id`` (decided by the reader, which sees the rows in order). Line-level reasons (``empty_line``,
``line_too_long``, ``not_utf8``, ``too_deep``, ``unparseable_json``,
``duplicate_key:<k>``) come from :mod:`evaluators.shadow.request_log.decode`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluators.shadow.request_log.cells import (
    as_float,
    class_key,
    finite_numbers,
    float_list,
    is_number,
    number_or_reason,
    present,
    utc_timestamp,
    whole,
)
from evaluators.shadow.request_log.format import (
    CANDIDATE_COLUMNS,
    CANDIDATE_LATENCY_MS,
    CANDIDATE_PREDICTION,
    CANDIDATE_SCORES,
    CANDIDATE_STATUS,
    FEATURES,
    LABEL,
    LATENCY_MS,
    PREDICTION,
    REQUEST_ID,
    REQUIRED_COLUMNS,
    SCORES,
    TIMESTAMP,
    CandidateStatus,
    ColumnType,
)

@dataclass(frozen=True)
class LogSchema:
    """What a row of a request log must and may carry.

    Attributes:
        features: the candidate's feature names, in the order it takes them.
        classes: the suite's classes (classification); None for regression, or for
            classification when unknown (then any integer prediction and any scores length pass).
        task: ``classification`` or ``regression``.
        string_features: features whose values are strings (all others must be numbers).
        slice_columns: extra columns kept for slices, as (name, numeric) pairs.
        mirror: keep the mirror's ``candidate_*`` columns.
        require_candidate: quarantine rows without a usable logged candidate answer.
    """

    features: tuple[str, ...]
    classes: tuple[int | str, ...] | None = None
    task: str = "classification"
    string_features: frozenset[str] = frozenset()
    slice_columns: tuple[tuple[str, bool], ...] = ()
    mirror: bool = False
    require_candidate: bool = False
    _class_index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {class_key(c): i for i, c in enumerate(self.classes or ())}
        object.__setattr__(self, "_class_index", index)

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns of a validated row, in order."""
        cols = [REQUEST_ID, TIMESTAMP, *self.features, PREDICTION, SCORES, LATENCY_MS, LABEL]
        cols += [name for name, _ in self.slice_columns if name not in cols]
        if self.mirror or self.require_candidate:
            cols += CANDIDATE_COLUMNS
        return tuple(cols)

    def column_types(self) -> tuple[tuple[str, ColumnType], ...]:
        """The stored type of each of :attr:`columns` (the staged log's schema, the same for every chunk)."""
        kinds: dict[str, ColumnType] = {REQUEST_ID: ColumnType.STRING, TIMESTAMP: ColumnType.TIMESTAMP,
                                        PREDICTION: ColumnType.FLOAT64 if self.task == "regression" else ColumnType.INT64,
                                        SCORES: ColumnType.FLOAT64_LIST, CANDIDATE_SCORES: ColumnType.FLOAT64_LIST,
                                        CANDIDATE_STATUS: ColumnType.STRING}
        kinds |= {name: ColumnType.STRING for name in self.string_features}
        kinds |= {name: ColumnType.FLOAT64 if numeric else ColumnType.STRING for name, numeric in self.slice_columns
                  if name not in self.features and name != LABEL}
        return tuple((name, kinds.get(name, ColumnType.FLOAT64)) for name in self.columns)

    def class_index(self, value: Any) -> int | None:
        """The index of ``value`` among the classes (None when it is none of them)."""
        return self._class_index.get(class_key(value))

    def frame(self, rows: Sequence[Mapping[str, Any] | tuple[Any, ...]]) -> pd.DataFrame:
        """Validated rows (dicts, or tuples in :attr:`columns` order) as a frame with fixed dtypes (also when empty)."""
        frame = pd.DataFrame.from_records(list(rows), columns=list(self.columns))
        frame[REQUEST_ID] = frame[REQUEST_ID].astype(object)
        frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP], utc=True)
        for name in self.features:
            frame[name] = frame[name].astype(object) if name in self.string_features else frame[name].astype(float)
        regression = self.task == "regression"
        frame[PREDICTION] = frame[PREDICTION].astype(float if regression else "int64")
        for name in (LATENCY_MS, LABEL, *(c for c in (CANDIDATE_PREDICTION, CANDIDATE_LATENCY_MS) if c in frame)):
            frame[name] = frame[name].astype(float)
        for name, numeric in self.slice_columns:
            if name not in self.features and name != LABEL:
                frame[name] = frame[name].astype(float if numeric else object)
        return frame


def validate_row(obj: Mapping[str, Any], schema: LogSchema) -> dict[str, Any] | str:
    """One row checked against the schema: the normalised row, or its quarantine reason.

    Example:
        >>> s = LogSchema(features=("x",), classes=(0, 1))
        >>> ok = validate_row({"request_id": 7, "timestamp": "2026-01-01T00:00:00Z", "x": 1, "prediction": 1, "latency_ms": 2}, s)
        >>> (ok["request_id"], ok["prediction"], ok["x"])
        ('7', 1, 1.0)
        >>> validate_row({"request_id": "a", "timestamp": "2026-01-01T00:00:00Z", "x": 1, "prediction": 5, "latency_ms": 2}, s)
        'prediction_not_a_class:5'
    """
    for name in REQUIRED_COLUMNS:
        if not present(obj.get(name)):
            return f"missing_field:{name}"
    prediction, scores = obj.get(PREDICTION), obj.get(SCORES)
    if not present(prediction) and not (present(scores) and schema.task == "classification"):
        return f"missing_field:{PREDICTION}"
    values = _feature_values(obj, schema)
    if isinstance(values, str):
        return values
    fast = not schema.string_features and finite_numbers(values)
    if not fast:
        for name, value in zip(schema.features, values, strict=True):
            if not present(value):
                return f"missing_field:{name}"
    out: dict[str, Any] = {}
    rid = obj[REQUEST_ID]
    if isinstance(rid, bool) or not isinstance(rid, (str, int, np.integer)):
        return f"wrong_type:{REQUEST_ID}"
    out[REQUEST_ID] = str(rid)
    if out[REQUEST_ID] == "":
        return f"missing_field:{REQUEST_ID}"
    ts = utc_timestamp(obj[TIMESTAMP])
    if ts is None:
        return f"wrong_type:{TIMESTAMP}"
    out[TIMESTAMP] = ts
    latency = number_or_reason(obj[LATENCY_MS], LATENCY_MS)
    if isinstance(latency, str):
        return latency
    if latency < 0:
        return f"wrong_type:{LATENCY_MS}"
    out[LATENCY_MS] = latency
    reason = _outputs(prediction, scores, schema, out)
    if reason:
        return reason
    if fast:
        out.update(zip(schema.features, map(float, values)))
    else:
        for name, value in zip(schema.features, values, strict=True):
            checked, reason = _feature(name, value, schema)
            if reason:
                return reason
            out[name] = checked
    reason = _label(obj.get(LABEL), schema, out)
    if reason:
        return reason
    for name, numeric in schema.slice_columns:
        if name not in out:
            value = obj.get(name)
            out[name] = _slice_value(value, numeric)
    if schema.mirror or schema.require_candidate:
        reason = _candidate(obj, schema, out)
        if reason and schema.require_candidate:
            return reason
    return out


# ---------------------------------------------------------------- cells


def _feature_values(obj: Mapping[str, Any], schema: LogSchema) -> list[Any] | str:
    """The row's feature values in schema order, from the flat keys or its own ``features`` cell."""
    cell = obj.get(FEATURES)
    if not present(cell):
        return list(map(obj.get, schema.features))
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except (ValueError, RecursionError):
            return "unparseable_json"
    if isinstance(cell, Mapping):
        return list(map(cell.get, schema.features))
    if isinstance(cell, (list, tuple, np.ndarray)):
        return list(cell) if len(cell) == len(schema.features) else f"wrong_type:{FEATURES}"
    return "unparseable_json"


def _feature(name: str, value: Any, schema: LogSchema) -> tuple[Any, str | None]:
    """A feature's value and None, or None and the reason it is refused."""
    if name in schema.string_features:
        return (value, None) if isinstance(value, str) else (None, f"wrong_type:{name}")
    number = number_or_reason(value, name)
    return (None, number) if isinstance(number, str) else (number, None)


def _outputs(prediction: Any, scores: Any, schema: LogSchema, out: dict[str, Any]) -> str | None:
    """Check and store ``prediction`` (a class index for classification) and ``scores``."""
    if schema.task == "regression":
        value = number_or_reason(prediction, PREDICTION)
        if isinstance(value, str):
            return value
        out[PREDICTION], out[SCORES] = value, None
        return None
    numbers: list[float] | None = None
    if present(prediction):
        numeric_classes = schema.classes is None or all(is_number(c) for c in schema.classes)
        if not (is_number(prediction) or (isinstance(prediction, str) and not numeric_classes)):
            return f"wrong_type:{PREDICTION}"
        if is_number(prediction) and not math.isfinite(as_float(prediction)):
            return f"non_finite:{PREDICTION}"
    if present(scores):
        numbers = float_list(scores)
        if numbers is None or (schema.classes is not None and len(numbers) != len(schema.classes)):
            return f"wrong_type:{SCORES}"
        if not all(math.isfinite(x) for x in numbers):
            return f"non_finite:{SCORES}"
    if present(prediction):
        index = schema.class_index(prediction) if schema.classes is not None else whole(prediction)
        if index is None or index < 0:
            return f"prediction_not_a_class:{class_key(prediction)[:40]}"
    else:
        index = int(np.argmax(numbers))
    out[PREDICTION], out[SCORES] = index, numbers
    return None


def _label(value: Any, schema: LogSchema, out: dict[str, Any]) -> str | None:
    """A label where known: the class index (classification) or the value; NaN when absent or not a class."""
    out[LABEL] = math.nan
    if not present(value):
        return None
    if schema.classes is not None and isinstance(value, str):
        index = schema.class_index(value)
        out[LABEL] = math.nan if index is None else float(index)
        return None
    if not is_number(value):
        return f"wrong_type:{LABEL}"
    if not math.isfinite(as_float(value)):
        return f"non_finite:{LABEL}"
    if schema.classes is not None:
        index = schema.class_index(value)
        out[LABEL] = math.nan if index is None else float(index)
    else:
        out[LABEL] = as_float(value)
    return None


def _slice_value(value: Any, numeric: bool) -> Any:
    if numeric:
        return as_float(value) if is_number(value) else math.nan
    return class_key(value) if present(value) and isinstance(value, (str, int, float, np.integer, np.floating)) else None


def _candidate(obj: Mapping[str, Any], schema: LogSchema, out: dict[str, Any]) -> str | None:
    """Keep the mirror's candidate columns; the reason this row has no usable candidate answer, if any."""
    status = obj.get(CANDIDATE_STATUS)
    status = status if isinstance(status, str) and status else CandidateStatus.MISSING.value
    scores = float_list(obj.get(CANDIDATE_SCORES)) if present(obj.get(CANDIDATE_SCORES)) else None
    prediction = obj.get(CANDIDATE_PREDICTION)
    prediction = as_float(prediction) if is_number(prediction) else math.nan
    latency = obj.get(CANDIDATE_LATENCY_MS)
    out[CANDIDATE_STATUS], out[CANDIDATE_SCORES], out[CANDIDATE_PREDICTION] = status, scores, prediction
    out[CANDIDATE_LATENCY_MS] = as_float(latency) if is_number(latency) else math.nan
    if status != CandidateStatus.OK:
        return f"no_candidate_answer:{status[:40]}"
    if schema.task == "regression":
        usable = math.isfinite(prediction)
    else:
        usable = scores is not None and all(math.isfinite(x) for x in scores) and (schema.classes is None or len(scores) == len(schema.classes))
    if not usable:
        out[CANDIDATE_STATUS] = CandidateStatus.EMPTY.value
        return f"no_candidate_answer:{CandidateStatus.EMPTY.value}"
    return None
