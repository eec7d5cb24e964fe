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

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_text
from evaluators.perturbations.random import ragged_uniform
from suite.spec import Frozen


class CharSwapsDropsParams(Frozen):
    """``rate``: probability that a character is dropped or swapped."""

    rate: float


def _edit(text: str, hit: NDArray[np.bool_], drop: NDArray[np.bool_]) -> str:
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
        require_text(out, self.name)
        lengths = [len(s) if isinstance(s, str) else 0 for s in out]
        hits = ragged_uniform(seed, sample_ids, self.stream("hit"), lengths)
        coins = ragged_uniform(seed, sample_ids, self.stream("drop"), lengths)
        for i, (hit, coin) in enumerate(zip(hits, coins)):
            if (hit < params.rate).any():
                out[i] = _edit(out[i], hit < params.rate, coin < 0.5)
        return out
