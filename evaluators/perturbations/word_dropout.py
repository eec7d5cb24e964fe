"""word_dropout: words go missing.

Each word (maximal run of non-space characters) is dropped with probability
``rate`` = 0.05, 0.1, 0.2, 0.3, 0.5, together with the whitespace that follows
it (or, for the last word, precedes it). Draws are per (sample, word ordinal).

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> WordDropout().apply(np.array(["the quick brown fox jumps"], dtype=object), 5, seed=0,
    ...                     sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['the brown fox jumps']
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_text
from evaluators.perturbations.random import ragged_uniform
from suite.spec import Frozen

PIECES = re.compile(r"(\s+)")


class WordDropoutParams(Frozen):
    """``rate``: probability that a word is dropped."""

    rate: float


def _drop(text: str, hit: NDArray[np.bool_]) -> str:
    pieces = PIECES.split(text)  # words at even positions (possibly empty at the ends)
    words = [k for k in range(0, len(pieces), 2) if pieces[k]]
    for ordinal, k in enumerate(words):
        if hit[ordinal]:
            pieces[k] = ""
            if k + 1 < len(pieces):
                pieces[k + 1] = ""
            elif k >= 1:
                pieces[k - 1] = ""
    return "".join(pieces)


class WordDropout(Perturbation[WordDropoutParams]):
    """Dropped words."""

    name = "word_dropout"
    family = "text"
    ladder = tuple(WordDropoutParams(rate=r) for r in (0.05, 0.1, 0.2, 0.3, 0.5))

    def _apply(
        self, out: NDArray, params: WordDropoutParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_text(out, self.name)
        counts = [len(s.split()) if isinstance(s, str) else 0 for s in out]
        for i, hit in enumerate(ragged_uniform(seed, sample_ids, self.stream("hit"), counts)):
            if (hit < params.rate).any():
                out[i] = _drop(out[i], hit < params.rate)
        return out
