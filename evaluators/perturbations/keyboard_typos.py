"""keyboard_typos: hit a neighbouring key instead of the intended one.

Each letter or digit is replaced, with probability ``rate`` = 0.02, 0.05, 0.1,
0.15, 0.25, by one of its QWERTY neighbours (table in ``data/keyboard.json``),
keeping its case. Draws are per (sample, character position) and shared by all
severities, so the characters changed at s are changed at every higher s.

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> KeyboardTypos().apply(np.array(["the quick brown fox"], dtype=object), 5, seed=0,
    ...                       sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['tne quick bfown gix']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, load_table, require_text
from evaluators.perturbations.random import ragged_uniform
from suite.spec import Frozen

NEIGHBOURS: dict[str, str] = load_table("keyboard.json")["neighbours"]


class KeyboardTyposParams(Frozen):
    """``rate``: probability that a character is replaced by a neighbouring key."""

    rate: float


def _strike(char: str, pick: float) -> str:
    keys = NEIGHBOURS.get(char.lower())
    if not keys:
        return char
    near = keys[min(int(pick * len(keys)), len(keys) - 1)]
    return near.upper() if char.isupper() else near


class KeyboardTypos(Perturbation[KeyboardTyposParams]):
    """Neighbouring-key typing errors."""

    name = "keyboard_typos"
    family = "text"
    ladder = tuple(KeyboardTyposParams(rate=r) for r in (0.02, 0.05, 0.1, 0.15, 0.25))

    def _apply(
        self, out: NDArray, params: KeyboardTyposParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        require_text(out, self.name)
        lengths = [len(s) if isinstance(s, str) else 0 for s in out]
        hits = ragged_uniform(seed, sample_ids, self.stream("hit"), lengths)
        picks = ragged_uniform(seed, sample_ids, self.stream("pick"), lengths)
        for i, (hit, pick) in enumerate(zip(hits, picks)):
            where = np.flatnonzero(hit < params.rate)
            if where.size:
                chars = list(out[i])
                for j in where.tolist():
                    chars[j] = _strike(chars[j], float(pick[j]))
                out[i] = "".join(chars)
        return out
