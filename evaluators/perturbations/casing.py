"""casing: flip the case of whole words (shouting, lower-cased names).

Each word (maximal run of non-space characters) is swap-cased with probability
``rate`` = 0.05, 0.1, 0.2, 0.35, 0.5; whitespace is kept exactly. Draws are per
(sample, word ordinal) and shared by all severities.

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> Casing().apply(np.array(["Hello big World"], dtype=object), 5, seed=0,
    ...                sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['Hello BIG wORLD']
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, require_text
from evaluators.perturbations.random import ragged_uniform
from suite.spec import Frozen

WORD = re.compile(r"\S+")


class CasingParams(Frozen):
    """``rate``: probability that a word's case is swapped."""

    rate: float


class Casing(Perturbation[CasingParams]):
    """Word-level case flips."""

    name = "casing"
    family = "text"
    ladder = tuple(CasingParams(rate=r) for r in (0.05, 0.1, 0.2, 0.35, 0.5))

    def _apply(
        self, out: NDArray, params: CasingParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_text(out, self.name)
        words = [list(WORD.finditer(s)) if isinstance(s, str) else [] for s in out]
        hits = ragged_uniform(seed, sample_ids, self.stream("hit"), [len(w) for w in words])
        for i, (found, hit) in enumerate(zip(words, hits)):
            chosen = set(np.flatnonzero(hit < params.rate).tolist())
            if chosen:
                out[i] = _flip_words(out[i], found, chosen)
        return out


def _flip_words(text: str, found: list[re.Match[str]], chosen: set[int]) -> str:
    parts, last = [], 0
    for k, match in enumerate(found):
        parts += [text[last : match.start()], match.group().swapcase() if k in chosen else match.group()]
        last = match.end()
    parts.append(text[last:])
    return "".join(parts)
