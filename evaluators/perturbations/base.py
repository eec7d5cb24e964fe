"""The perturbation base class and the context a perturbation reads.

A perturbation is a stateless object with a ``name``, a ``version``, a
``family`` and a ladder of five parameter sets (severity 1..5; severity 0 is
the identity). :meth:`Perturbation.apply` checks its inputs, returns a copy for
severity 0 and otherwise calls the subclass's pure ``_apply`` on a copy.
Rows are never reordered, added or dropped, so sample ids stay paired.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Generic, Literal, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from evaluators.perturbations.random import ragged_uniform
from suite.errors import VigilError
from suite.spec import Frozen

Family = Literal["tabular", "image", "text", "series", "label"]
QUANTILE_LEVELS: tuple[float, ...] = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
MAX_SEVERITY = 5
CHUNK_CELLS = 1 << 14  # ~16k cells: temporaries stay in L2 (measured best of 2**11..2**24)
DATA_DIR = Path(__file__).parent / "data"


@dataclass(frozen=True)
class ColumnStats:
    """Reference statistics of one column: numeric summaries or category values."""

    mean: float = 0.0
    std: float = 1.0
    min: float = 0.0
    max: float = 1.0
    quantiles: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    def quantile(self, level: NDArray[np.float64] | float) -> NDArray[np.float64]:
        """Reference quantile(s) at ``level`` in [0, 1], interpolated on :data:`QUANTILE_LEVELS`."""
        grid = self.quantiles or (self.min,) * 4 + (self.mean,) + (self.max,) * 4
        return np.interp(level, QUANTILE_LEVELS, grid)


@dataclass(frozen=True)
class PerturbationContext:
    """What a perturbation may know besides the batch: columns to touch and reference stats.

    Attributes:
        columns: indices of the columns of ``values`` to perturb; ``None`` means all.
        stats: one :class:`ColumnStats` per column of ``values`` (may be empty for text/labels).
        image_shape: ``(H, W)`` or ``(H, W, C)`` when rows are flattened images.
        value_range: ``(low, high)`` over all reference cells (pixel range for images).
        value_std: standard deviation over all reference cells (scale for series).
        num_classes: number of classes, for label perturbations.
    """

    columns: tuple[int, ...] | None = None
    stats: tuple[ColumnStats, ...] = ()
    image_shape: tuple[int, ...] | None = None
    value_range: tuple[float, float] = (0.0, 1.0)
    value_std: float = 1.0
    num_classes: int | None = None

    def column_indices(self, n_columns: int) -> NDArray[np.int64]:
        """The columns to perturb as an index array, checked against the batch width."""
        cols = np.arange(n_columns) if self.columns is None else np.asarray(self.columns, dtype=np.int64)
        if cols.size and (cols.min() < 0 or cols.max() >= n_columns):
            raise VigilError(f"perturbation columns: expected indices below {n_columns}, got {list(cols)}")
        return cols

    def stat(self, column: int) -> ColumnStats:
        """Reference stats of ``column``, or a neutral default when none were computed."""
        return self.stats[column] if column < len(self.stats) else ColumnStats()


def context_from_frame(
    reference: pd.DataFrame,
    features: Sequence[str],
    columns: Sequence[str] | None = None,
    *,
    image_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
) -> PerturbationContext:
    """Build a context from a reference frame whose ``features`` are the batch's columns, in order.

    Example:
        >>> ctx = context_from_frame(pd.DataFrame({"a": [1.0, 3.0], "b": ["x", "y"]}), ["a", "b"], ["b"])
        >>> ctx.columns, ctx.stats[0].mean, ctx.stats[1].categories
        ((1,), 2.0, ('x', 'y'))
    """
    missing = [c for c in (*features, *(columns or ())) if c not in reference.columns]
    if missing:
        raise VigilError(f"perturbation columns: expected columns of the reference frame, got {missing}")
    stats = tuple(_column_stats(reference[name]) for name in features)
    chosen = None if columns is None else tuple(list(features).index(c) for c in columns)
    numeric = reference[list(features)].select_dtypes("number").to_numpy(dtype=np.float64)
    finite = numeric[np.isfinite(numeric)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    spread = float(finite.std()) if finite.size else 1.0
    return PerturbationContext(chosen, stats, image_shape, (low, high), spread or 1.0, num_classes)


def _column_stats(column: pd.Series) -> ColumnStats:
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return ColumnStats(categories=tuple(sorted(map(str, column.dropna().unique()))))
    x = column.to_numpy(dtype=np.float64)
    x = x[np.isfinite(x)]
    if not x.size:
        return ColumnStats()
    qs = tuple(float(q) for q in np.quantile(x, QUANTILE_LEVELS))
    return ColumnStats(float(x.mean()), float(x.std()) or 1.0, float(x.min()), float(x.max()), qs)


P = TypeVar("P", bound=Frozen)


class Perturbation(ABC, Generic[P]):
    """Base of every perturbation: a ladder of five parameter sets and a pure ``_apply``.

    Subclasses set ``name``, ``version``, ``family`` and ``ladder`` (severities 1..5)
    and implement ``_apply(out, params, seed, sample_ids, context)`` on a copy.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"
    family: ClassVar[Family]
    ladder: ClassVar[tuple[Frozen, ...]]
    column_count: ClassVar[int | None] = None  # columns it needs named, when fixed (feature_swap: 2)

    def params(self, severity: int) -> P:
        """The parameter set for ``severity`` in 1..5."""
        if not 1 <= severity <= MAX_SEVERITY:
            raise VigilError(f"perturbation {self.name}: expected severity 0..5, got {severity}")
        return self.ladder[severity - 1]  # type: ignore[return-value]

    def apply(
        self,
        values: NDArray,
        severity: int,
        *,
        seed: int,
        sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        """A perturbed copy of ``values`` (same shape and dtype); row ``i`` belongs to ``sample_ids[i]``."""
        values = np.asarray(values)
        sample_ids = np.asarray(sample_ids, dtype=np.int64)
        if values.shape[:1] != sample_ids.shape:
            raise VigilError(
                f"perturbation {self.name}: expected one sample id per row ({values.shape[:1]}), "
                f"got {sample_ids.shape}"
            )
        if severity == 0:
            return values.copy()
        params = self.params(severity)
        out = np.empty_like(values)
        # Rows are independent, so blocks of rows give the same result as one call while
        # keeping the temporaries of counter-based draws in cache.
        step = max(1, CHUNK_CELLS // max(1, int(np.prod(values.shape[1:]))))
        for start in range(0, len(values), step):
            block = values[start : start + step]
            done = self._apply(block.copy(), params, seed, sample_ids[start : start + step], context)
            if done.shape != block.shape or done.dtype != block.dtype:
                raise AssertionError(f"{self.name} changed shape/dtype {block.shape}/{block.dtype}")
            out[start : start + step] = done
        return out

    @abstractmethod
    def _apply(
        self, out: NDArray, params: P, seed: int, sample_ids: NDArray[np.int64], context: PerturbationContext
    ) -> NDArray:
        """Perturb ``out`` (a private copy) and return it."""

    def stream(self, purpose: str) -> str:
        """The random stream name for one purpose of this perturbation (severity is not part of it)."""
        return f"{self.name}/{purpose}"


def require_float(values: NDArray, name: str) -> None:
    """Refuse non-float batches for perturbations that write NaN or fractions."""
    if not np.issubdtype(values.dtype, np.floating):
        raise VigilError(f"perturbation {name}: expected a float array, got dtype {values.dtype}")


def cast_like(result: NDArray[np.float64], like: NDArray) -> NDArray:
    """``result`` in ``like``'s dtype, rounding and clipping for integer dtypes."""
    if np.issubdtype(like.dtype, np.integer):
        info = np.iinfo(like.dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(like.dtype)
    return result.astype(like.dtype, copy=False)


def require_2d(values: NDArray, name: str) -> None:
    """Refuse batches that are not (rows, columns)."""
    if values.ndim != 2:
        raise VigilError(f"perturbation {name}: expected a 2-D array (rows, columns), got shape {values.shape}")


def image_view(values: NDArray, context: PerturbationContext, name: str) -> NDArray[np.float64]:
    """Rows of flattened images as float (n, H, W, C), checked against ``context.image_shape``."""
    shape = context.image_shape
    if shape is None or len(shape) not in (2, 3):
        raise VigilError(f"perturbation {name}: expected image_shape (H, W) or (H, W, C), got {shape}")
    h, w, c = (*shape, 1)[:3]
    if values.ndim != 2 or values.shape[1] != h * w * c:
        raise VigilError(f"perturbation {name}: expected rows of {h * w * c} pixels, got shape {values.shape}")
    return values.astype(np.float64).reshape(len(values), h, w, c)


def clip_to_range(images: NDArray[np.float64], context: PerturbationContext) -> NDArray[np.float64]:
    """Clip to the reference pixel range, the way a camera saturates."""
    low, high = context.value_range
    return np.clip(images, low, high)


def require_text(values: NDArray, name: str) -> None:
    """Refuse batches that are not a 1-D object array of strings (None allowed)."""
    if values.ndim != 1 or values.dtype != object:
        raise VigilError(f"perturbation {name}: expected a 1-D object array of strings, got {values.dtype} {values.shape}")


def edit_characters(
    perturbation: Perturbation, out: NDArray, rate: float, seed: int, sample_ids: NDArray[np.int64],
    edit: Callable[..., str], *purposes: str,
) -> NDArray:
    """A text batch ``out`` with each string that has a hit character replaced by ``edit(text, hit, *draws)``.

    A character is hit when its ``"hit"`` draw falls below ``rate``; ``hit`` marks those
    characters, and ``draws`` holds one uniform per character for each further purpose
    (e.g. ``"pick"``), in order. Strings with no hit character, and non-strings, stay as
    they are. Draws are keyed by (sample, character position), as everywhere.
    """
    require_text(out, perturbation.name)
    lengths = [len(s) if isinstance(s, str) else 0 for s in out]
    hits, *others = (ragged_uniform(seed, sample_ids, perturbation.stream(p), lengths) for p in ("hit", *purposes))
    for i, (hit, *draws) in enumerate(zip(hits, *others)):
        if (hit < rate).any():
            out[i] = edit(out[i], hit < rate, *draws)
    return out


def load_table(file_name: str) -> dict:
    """A JSON data table from ``evaluators/perturbations/data``."""
    return json.loads((DATA_DIR / file_name).read_text(encoding="utf-8"))
