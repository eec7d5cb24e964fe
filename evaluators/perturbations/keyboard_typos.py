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

from evaluators.perturbations.base import Perturbation, PerturbationContext, edit_characters, load_table
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


def _strike_each(text: str, hit: NDArray[np.bool_], pick: NDArray[np.float64]) -> str:
    chars = list(text)
    for j in np.flatnonzero(hit).tolist():
        chars[j] = _strike(chars[j], float(pick[j]))
    return "".join(chars)


class KeyboardTypos(Perturbation[KeyboardTyposParams]):
    """Neighbouring-key typing errors."""

    name = "keyboard_typos"
    family = "text"
    ladder = tuple(KeyboardTyposParams(rate=r) for r in (0.02, 0.05, 0.1, 0.15, 0.25))

    def _apply(
        self, out: NDArray, params: KeyboardTyposParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        return edit_characters(self, out, params.rate, seed, sample_ids, _strike_each, "pick")
