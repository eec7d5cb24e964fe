"""unseen_categories: replace categorical values by categories never seen in reference.

Severity s hits a fraction ``rate`` = 0.02, 0.05, 0.1, 0.2, 0.4 of cells and
writes ``"<unseen-k>"`` with ``k`` drawn in 0..4 (five new levels per column).
A token that happens to be a reference category gets a ``"*"`` suffix until it is not.

Example (seed 0, sample ids 0..3, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> UnseenCategories().apply(np.array([["a"], ["b"], ["a"], ["b"]], dtype=object), 5, seed=0,
    ...                          sample_ids=np.arange(4), context=PerturbationContext()).ravel().tolist()
    ['<unseen-0>', '<unseen-0>', '<unseen-4>', 'b']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_2d
from evaluators.perturbations.random import cell_uniform
from suite.spec import Frozen

NEW_LEVELS = 5


class UnseenCategoriesParams(Frozen):
    """``rate``: fraction of cells replaced by an unseen category."""

    rate: float


class UnseenCategories(Perturbation[UnseenCategoriesParams]):
    """Categorical values outside the reference vocabulary."""

    name = "unseen_categories"
    family = "tabular"
    ladder = tuple(UnseenCategoriesParams(rate=r) for r in (0.02, 0.05, 0.1, 0.2, 0.4))

    def _apply(
        self, out: NDArray, params: UnseenCategoriesParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_2d(out, self.name)
        cols = context.column_indices(out.shape[1])
        hit = cell_uniform(seed, sample_ids, self.stream("hit"), cols) < params.rate
        level = np.floor(cell_uniform(seed, sample_ids, self.stream("level"), cols) * NEW_LEVELS).astype(int)
        for j, c in enumerate(cols.tolist()):
            known = set(context.stat(c).categories)
            tokens = np.empty(NEW_LEVELS, dtype=object)
            for k in range(NEW_LEVELS):
                token = f"<unseen-{k}>"
                while token in known:
                    token += "*"
                tokens[k] = token
            rows = hit[:, j]
            out[rows, c] = tokens[level[rows, j]]
        return out
