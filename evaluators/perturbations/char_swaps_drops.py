"""char_swaps_drops: drop characters or swap them with their right neighbour.

Each character is hit with probability ``rate`` = 0.02, 0.05, 0.1, 0.15, 0.25;
a hit character is dropped or swapped with the next one (fair coin per
position). Scanning left to right, a swap consumes the next position; a swap of
two equal characters is skipped (it would change nothing).

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> CharSwapsDrops().apply(np.array(["the quick brown fox"], dtype=object), 5, seed=0,
    ...                        sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['th quic rnw fox']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, edit_characters
from suite.spec import Frozen


class CharSwapsDropsParams(Frozen):
    """``rate``: probability that a character is dropped or swapped."""

    rate: float


def _edit(text: str, hit: NDArray[np.bool_], coin: NDArray[np.float64]) -> str:
    drop = coin < 0.5  # a fair coin per position: drop, or swap with the next
    chars, i = [], 0
    while i < len(text):
        if hit[i] and drop[i]:
            i += 1
        elif hit[i] and i + 1 < len(text) and text[i] != text[i + 1]:
            chars += [text[i + 1], text[i]]
            i += 2
        else:
            chars.append(text[i])
            i += 1
    return "".join(chars)


class CharSwapsDrops(Perturbation[CharSwapsDropsParams]):
    """Character drops and adjacent transpositions."""

    name = "char_swaps_drops"
    family = "text"
    ladder = tuple(CharSwapsDropsParams(rate=r) for r in (0.02, 0.05, 0.1, 0.15, 0.25))

    def _apply(
        self, out: NDArray, params: CharSwapsDropsParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        return edit_characters(self, out, params.rate, seed, sample_ids, _edit, "drop")
