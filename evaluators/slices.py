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


class PackedMasks:
    """Slice masks over a dataset's rows held at one bit a row, unpacked a chunk's rows at a time.

    Why: scoring keeps a dataset's masks while it scores every work item; at 10M rows the bench
    suite's five boolean masks held 48 MiB under scoring's peak, 6 MiB packed. The rows taken are
    the boolean masks' rows, unchanged.

    Example:
        >>> packed = PackedMasks({"all": np.ones(10, bool), "odd": np.arange(10) % 2 == 1})
        >>> {name: mask.tolist() for name, mask in packed.rows(3, 6).items()}
        {'all': [True, True, True], 'odd': [True, False, True]}
        >>> packed.at(np.array([9, 0]))["odd"].tolist()
        [True, False]
    """

    def __init__(self, masks: dict[str, np.ndarray]) -> None:
        self._bits = {name: np.packbits(np.asarray(mask, dtype=bool)) for name, mask in masks.items()}
        self.size = len(next(iter(masks.values()))) if masks else 0

    def rows(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Every mask's rows ``start..stop`` (boolean arrays, in slice order)."""
        first, skip = start // 8, start % 8
        return {name: np.unpackbits(bits[first:(stop + 7) // 8])[skip:skip + stop - start].view(bool)
                for name, bits in self._bits.items()}

    def at(self, positions: np.ndarray) -> dict[str, np.ndarray]:
        """Every mask at the rows ``positions`` (any order)."""
        byte, shift = positions >> 3, (7 - (positions & 7)).astype(np.uint8)
        return {name: ((bits[byte] >> shift) & 1).view(bool) for name, bits in self._bits.items()}
