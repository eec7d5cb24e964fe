"""Slice labels for shadow rows, in the results convention ``<family>=<value>``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.errors import DataError
from suite.spec import SliceSpec


def slice_labels(frame: pd.DataFrame, spec: SliceSpec) -> pd.Series:
    """Each row's slice (``age=[30,40)`` for bins, ``country=fr`` for values); null outside all bins.

    Example:
        >>> slice_labels(pd.DataFrame({"age": [25, 35]}), SliceSpec(column="age", bins=[20, 30, 40])).tolist()
        ['age=[20,30)', 'age=[30,40)']
    """
    if spec.column not in frame:
        raise DataError(f"slice {spec.label!r}: expected column {spec.column!r} in the request log, got {sorted(map(str, frame.columns))}")
    column = frame[spec.column]
    if spec.bins:
        edges = list(spec.bins)
        names = [f"[{_num(lo)},{_num(hi)})" for lo, hi in zip(edges[:-1], edges[1:])]
        binned = pd.cut(column.astype(float), edges, right=False, labels=names)
        values = binned.astype(object).where(binned.notna(), None)
    else:
        values = column.astype(object).where(column.notna(), None)
    return values.map(lambda v: None if v is None else f"{spec.label}={_num(v)}")


def _num(v: object) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)
