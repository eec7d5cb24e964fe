"""whitespace: spurious and missing spaces.

Each character is hit with probability ``rate`` = 0.02, 0.05, 0.1, 0.15, 0.25:
a hit whitespace character is deleted (words run together); a hit other
character gets a space inserted before it (a word is split).

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Whitespace().apply(np.array(["the quick brown fox"], dtype=object), 5, seed=0,
    ...                    sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['the  quic k bro wn fo x']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, edit_characters
from suite.spec import Frozen


class WhitespaceParams(Frozen):
    """``rate``: probability that a character gets a space inserted before it (or, if a space, deleted)."""

    rate: float


def _respace(text: str, hit: NDArray[np.bool_]) -> str:
    return "".join(("" if c.isspace() else " " + c) if h else c for c, h in zip(text, hit.tolist()))


class Whitespace(Perturbation[WhitespaceParams]):
    """Inserted and deleted spaces."""

    name = "whitespace"
    family = "text"
    ladder = tuple(WhitespaceParams(rate=r) for r in (0.02, 0.05, 0.1, 0.15, 0.25))

    def _apply(
        self, out: NDArray, params: WhitespaceParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        return edit_characters(self, out, params.rate, seed, sample_ids, _respace)
