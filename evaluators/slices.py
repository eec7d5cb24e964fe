"""Boolean row masks for result slices.

``"all"`` comes first, then per :class:`~suite.spec.SliceSpec`: one slice per
distinct value (``"label=3"``, missing values left out) or, with ``bins``, one
per half-open bin between consecutive edges (``"age=[30,40)"``; values outside
the edges fall in no bin).

Example:
    >>> import pandas as pd
    >>> from suite.spec import SliceSpec
    >>> frame = pd.DataFrame({"label": [0, 1, 1], "age": [25.0, 35.0, 45.0]})
    >>> masks = slice_masks(frame, [SliceSpec(column="label"), SliceSpec(column="age", bins=[20, 30, 40])])
    >>> {name: mask.tolist() for name, mask in masks.items()}  # doctest: +NORMALIZE_WHITESPACE
    {'all': [True, True, True], 'label=0': [True, False, False], 'label=1': [False, True, True],
     'age=[20,30)': [True, False, False], 'age=[30,40)': [False, True, False]}
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from suite.errors import DataError
from suite.spec import SliceSpec


def slice_masks(frame: pd.DataFrame, slices: list[SliceSpec]) -> dict[str, np.ndarray]:
    """Masks over ``frame``'s rows, keyed by slice name, ``"all"`` first.

    Raises:
        DataError: a slice column is missing, binned but not numeric, has
            edges that do not increase, or two slices share a name.
    """
    masks = {"all": np.ones(len(frame), dtype=bool)}
    for spec in slices:
        family = _family(frame, spec)
        for name in family:
            if name in masks:
                raise DataError(f"slices: expected unique slice names, got {name!r} twice")
        masks.update(family)
    return masks


def _family(frame: pd.DataFrame, spec: SliceSpec) -> dict[str, np.ndarray]:
    if spec.column not in frame.columns:
        available = ", ".join(map(str, frame.columns))
        raise DataError(f"slices: column {spec.column!r} not found; available columns: {available}")
    column = frame[spec.column]
    if spec.bins is None:
        return {f"{spec.label}={_text(v)}": (column == v).to_numpy(dtype=bool) for v in _distinct(column)}
    if not pd.api.types.is_numeric_dtype(column):
        raise DataError(f"slices: column {spec.column!r} has bins: expected numbers, got dtype {column.dtype}")
    edges = list(spec.bins)
    if len(edges) < 2 or any(a >= b for a, b in zip(edges, edges[1:])):
        raise DataError(f"slices: column {spec.column!r}: expected at least two increasing bin edges, got {edges}")
    values = column.to_numpy(dtype=np.float64)
    return {
        f"{spec.label}=[{_text(lo)},{_text(hi)})": (values >= lo) & (values < hi)
        for lo, hi in zip(edges, edges[1:])
    }


def _distinct(column: pd.Series) -> list[object]:
    # The column's distinct values less the missing ones, in first-seen order as ``dropna().unique()``
    # gives them, without its copy of the column: at 10M rows of strings that copy's 76 MiB stayed
    # in the process under scoring's peak (229 MiB while it ran).
    uniques = column.unique()
    values = list(uniques[~pd.isna(uniques)])
    try:
        return sorted(values)
    except TypeError:  # mixed types: keep first-seen order
        return values


def _text(value: object) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return np.format_float_positional(float(value), trim="-")
    return str(value)
