"""category_typos: misspell categorical values by one character edit.

Severity s hits a fraction ``rate`` = 0.02, 0.05, 0.1, 0.2, 0.4 of cells; a hit
cell's string gets one edit at a drawn position: duplicate the character, drop
it, or swap it with the next (drawn per cell). An edit that would leave the
string unchanged (e.g. swapping "ss") duplicates instead, so a hit always changes
the value. Non-string cells (None, NaN) are left alone. Works on object arrays.

Example (seed 0, sample ids 0..4, severity 5; only cell [4, 0] is hit):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> values = np.array([["red"], ["green"], ["blue"], ["red"], ["green"]], dtype=object)
    >>> CategoryTypos().apply(values, 5, seed=0, sample_ids=np.arange(5),
    ...                       context=PerturbationContext()).ravel().tolist()
    ['red', 'green', 'blue', 'red', 'geen']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d
from evaluators.perturbations.random import cell_uniform, uniform
from suite.spec import Frozen


class CategoryTyposParams(Frozen):
    """``rate``: fraction of cells that get a one-character typo."""

    rate: float


def one_edit(text: str, where: float, how: float) -> str:
    """``text`` with one edit at relative position ``where``: duplicate, drop or swap by ``how``."""
    if not text:
        return text
    i = min(int(where * len(text)), len(text) - 1)
    if how < 1 / 3 and len(text) > 1:
        return text[:i] + text[i + 1 :]
    if how < 2 / 3 and i + 1 < len(text) and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i] + text[i:]


class CategoryTypos(Perturbation[CategoryTyposParams]):
    """One-character typos in categorical (string) columns."""

    name = "category_typos"
    family = "tabular"
    ladder = tuple(CategoryTyposParams(rate=r) for r in (0.02, 0.05, 0.1, 0.2, 0.4))

    def _apply(
        self, out: NDArray, params: CategoryTyposParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        rows, which = np.nonzero(cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate)
        ids, col = sample_ids[rows], cols[which]
        where = uniform(seed, ids, self.stream("where"), col)
        how = uniform(seed, ids, self.stream("how"), col)
        for r, c, w, h in zip(rows.tolist(), col.tolist(), where.tolist(), how.tolist()):
            if isinstance(out[r, c], str):
                out[r, c] = one_edit(out[r, c], w, h)
        return out
