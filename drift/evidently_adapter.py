"""The one module that calls Evidently: run its data-drift preset and read its verdicts back.

Scores, methods and thresholds come from the preset's per-column ``ValueDrift``
metrics; the drift flags come from its tests (``include_tests=True``): a column
drifted when its "Value Drift" test failed, and the dataset drifted when the
"Share of Drifted Columns" test failed. Evidently's method names are mapped to
Vigil's check names so a result records what was computed and which way its
threshold points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.presets import DataDriftPreset

from drift.checks import DRIFT_CHECKS, column_kind
from drift.results import DatasetDrift, DriftResult
from suite.errors import VigilError

def _vigil_names() -> dict[str, str]:
    """Evidently's name for a stat test -> Vigil check name (which fixes the score kind). A metric reports
    the display name when Evidently chose the test and the short name when it was given one."""
    names = {}
    for name, check in DRIFT_CHECKS.items():
        for evidently in (getattr(check, "evidently_name", None), getattr(check, "evidently_display_name", None)):
            if evidently:
                names[evidently] = name
    return names


def run_data_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    categorical: Sequence[str] = (),
    per_column_method: Mapping[str, str] | None = None,
    per_column_threshold: Mapping[str, float] | None = None,
    share_threshold: float = 0.5,
) -> tuple[DatasetDrift, Snapshot]:
    """Run Evidently's ``DataDriftPreset`` with tests and adapt its verdicts.

    Args:
        reference: Reference rows.
        current: Current rows.
        columns: Columns to compare; None means every column the two frames share.
        categorical: Columns to treat as categorical even if numeric; other numeric dtypes are numerical.
        per_column_method: Column -> Vigil check name (``DRIFT_CHECKS``) overriding Evidently's choice.
        per_column_threshold: Column -> threshold overriding the check's default.
        share_threshold: Share of drifted columns at which the dataset drifts.

    Returns:
        The adapted :class:`DatasetDrift` (``engine="evidently"``) and Evidently's snapshot
        (for :func:`save_html` or ``snapshot.dict()``).
    """
    cols = list(columns) if columns is not None else [c for c in reference.columns if c in current.columns]
    missing = [c for c in cols if c not in reference.columns or c not in current.columns]
    if missing:
        raise VigilError(f"drift columns: expected columns present in reference and current, missing {missing}")
    definition = _definition(reference, cols, set(categorical))
    methods = {c: evidently_name(m) for c, m in (per_column_method or {}).items()}
    preset = DataDriftPreset(
        columns=cols,
        drift_share=share_threshold,
        per_column_method=methods or None,
        per_column_threshold=dict(per_column_threshold) if per_column_threshold else None,
    )
    snapshot = Report([preset], include_tests=True).run(
        Dataset.from_pandas(current[cols], data_definition=definition),
        Dataset.from_pandas(reference[cols], data_definition=definition),
    )
    return _adapt(snapshot.dict(), reference, current, cols, share_threshold), snapshot


def evidently_name(method: str) -> str:
    """The name Evidently knows a Vigil check by, or an error for checks only Vigil has."""
    name = getattr(DRIFT_CHECKS.get(method), "evidently_name", None)
    if not name:
        known = sorted(n for n, c in DRIFT_CHECKS.items() if getattr(c, "evidently_name", None))
        raise VigilError(f"drift method {method!r}: expected one Evidently also has {known}, got a Vigil-only check")
    return name


def run_prediction_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    prediction_columns: Sequence[str] | None = None,
    **options: Any,
) -> tuple[DatasetDrift, Snapshot]:
    """Drift of a model's outputs: the predicted class ``y_pred`` (categorical for classification)
    and the ``score_<k>`` probability columns, or the columns named.

    A predictions frame follows Vigil's convention (``sample_id, y_true, y_pred, score_<k>``).
    Regression predictions (float ``y_pred``) are compared as numerical.
    """
    cols = list(prediction_columns) if prediction_columns else _prediction_columns(reference)
    categorical = [c for c in cols if c == "y_pred" and pd.api.types.is_integer_dtype(reference[c].dtype)]
    return run_data_drift(reference, current, cols, categorical=categorical, **options)


def run_target_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    label: str = "y_true",
    *,
    categorical_label: bool = True,
    **options: Any,
) -> tuple[DatasetDrift, Snapshot] | None:
    """Drift of the labels when both windows have them, else None (labels not arrived yet)."""
    for frame in (reference, current):
        if label not in frame.columns or frame[label].isna().all():
            return None
    return run_data_drift(
        reference, current, [label], categorical=[label] if categorical_label else [], **options
    )


def save_html(snapshot: Snapshot, path: str | Path) -> Path:
    """Write Evidently's self-contained HTML report and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(target))
    return target


def _prediction_columns(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in frame.columns if c == "y_pred" or c.startswith("score_")]
    if not cols:
        raise VigilError(f"prediction drift: expected a y_pred or score_<k> column, got {list(frame.columns)}")
    return cols


def _definition(reference: pd.DataFrame, cols: list[str], categorical: set[str]) -> DataDefinition:
    cat = [c for c in cols if c in categorical or column_kind(reference[c]) == "categorical"]
    num = [c for c in cols if c not in cat]
    return DataDefinition(numerical_columns=num, categorical_columns=cat)


def _adapt(
    report: dict[str, Any], reference: pd.DataFrame, current: pd.DataFrame, cols: list[str], share: float
) -> DatasetDrift:
    metrics = {m["id"]: m for m in report["metrics"] if m["config"]["type"].endswith(":ValueDrift")}
    flags: dict[str, bool] = {}
    for test in report["tests"]:
        metric = metrics.get(test["metric_config"]["metric_id"])
        if metric is not None:
            flags[metric["config"]["column"]] = test["status"] == "FAIL"
    results, vigil_names = [], _vigil_names()
    for metric in metrics.values():
        config = metric["config"]
        column, display = config["column"], config["method"]
        if display not in vigil_names:
            raise VigilError(f"evidently method for {column!r}: expected one of {sorted(vigil_names)}, got {display!r}")
        if column not in flags:
            raise VigilError(f"evidently report: expected a drift test for column {column!r}, found none")
        check = DRIFT_CHECKS.get(vigil_names[display])
        results.append(
            DriftResult(
                column=column,
                score=float(metric["value"]),
                score_kind=check.score_kind,
                threshold=float(config["threshold"]),
                drifted=flags[column],
                method=check.name,
                method_version=check.version,
                n_reference=int(reference[column].notna().sum()),
                n_current=int(current[column].notna().sum()),
                engine="evidently",
            )
        )
    order = {c: i for i, c in enumerate(cols)}
    summary = DatasetDrift.of(sorted(results, key=lambda r: order[r.column]), share)
    share_ids = {m["id"] for m in report["metrics"] if m["config"]["type"].endswith(":DriftedColumnsCount")}
    share_tests = [t for t in report["tests"] if t["metric_config"]["metric_id"] in share_ids]
    if len(share_tests) != 1:
        raise VigilError(f"evidently report: expected one 'Share of Drifted Columns' test, found {len(share_tests)}")
    return summary.model_copy(update={"dataset_drifted": share_tests[0]["status"] == "FAIL"})
