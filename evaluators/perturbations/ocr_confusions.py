"""ocr_confusions: characters an OCR engine misreads (0/O, 1/l, rn/m, ...).

Scanning left to right, each occurrence of a source in ``data/ocr.json``
(two-character sources first) is replaced, with probability ``rate`` = 0.1,
0.2, 0.35, 0.5, 0.75, by one of its confusions. Draws are keyed by (sample,
position of the occurrence's first character).

Example (seed 0, sample id 0, severity 5):
    >>> import numpy as np
    >>> from evaluators.perturbations.base import PerturbationContext
    >>> OcrConfusions().apply(np.array(["modern 1010"], dtype=object), 5, seed=0,
    ...                       sample_ids=np.array([0]), context=PerturbationContext()).tolist()
    ['rn0clcm IOl0']
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from evaluators.perturbations.base import Perturbation, PerturbationContext, edit_characters, load_table
from suite.spec import Frozen

CONFUSIONS: dict[str, list[str]] = load_table("ocr.json")["confusions"]


class OcrConfusionsParams(Frozen):
    """``rate``: probability that a confusable character (or pair) is misread."""

    rate: float


def _misread(text: str, hit: NDArray[np.bool_], pick: NDArray[np.float64]) -> str:
    chars, i = [], 0
    while i < len(text):
        source = next((text[i : i + k] for k in (2, 1) if text[i : i + k] in CONFUSIONS and i + k <= len(text)), None)
        if source is not None and hit[i]:
            options = CONFUSIONS[source]
            chars.append(options[min(int(pick[i] * len(options)), len(options) - 1)])
            i += len(source)
        else:
            chars.append(text[i])
            i += 1
    return "".join(chars)


class OcrConfusions(Perturbation[OcrConfusionsParams]):
    """OCR misreadings from a confusion table."""

    name = "ocr_confusions"
    family = "text"
    ladder = tuple(OcrConfusionsParams(rate=r) for r in (0.1, 0.2, 0.35, 0.5, 0.75))

    def _apply(
        self, out: NDArray, params: OcrConfusionsParams, seed: int, sample_ids: NDArray[np.int64],
        context: PerturbationContext,
    ) -> NDArray:
        return edit_characters(self, out, params.rate, seed, sample_ids, _misread, "pick")
