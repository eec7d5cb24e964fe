"""scikit-learn models saved with ``skops.io``; only scikit-learn and numpy types are trusted.

Classification uses ``predict_proba`` (``output: auto``) or ``predict`` for
``output: labels``; regression uses ``predict``.
"""

from __future__ import annotations

from pathlib import Path

from suite.errors import VigilError
from suite.spec import ModelSpec
from workers.formats.base import LoadedModel, ModelFormat

_TRUSTED_PREFIXES = ("sklearn.", "numpy.")


def trusted_types(checkpoint: Path, *, model: str) -> list[str]:
    """Types in the file that need trust, refusing any outside scikit-learn and numpy."""
    import skops.io as sio

    needed = sio.get_untrusted_types(file=str(checkpoint))
    foreign = sorted(t for t in needed if not t.startswith(_TRUSTED_PREFIXES))
    if foreign:
        raise VigilError(
            f"model {model}: checkpoint {checkpoint}: refusing to load types outside sklearn/numpy: {', '.join(foreign)}"
        )
    return list(needed)


def load(spec: ModelSpec, checkpoint: Path | None, base_dir: Path, task: str) -> LoadedModel:
    """Load the estimator and pick the method that yields the spec's output."""
    import skops.io as sio

    assert checkpoint is not None
    estimator = sio.load(str(checkpoint), trusted=trusted_types(checkpoint, model=spec.name))
    if task == "classification" and spec.output != "labels":
        if not hasattr(estimator, "predict_proba"):
            raise VigilError(f"model {spec.name}: expected an estimator with predict_proba, got {type(estimator).__name__}")
        return LoadedModel(lambda batch: estimator.predict_proba(batch), auto_output="probabilities")
    auto = "values" if task == "regression" else "labels"
    return LoadedModel(lambda batch: estimator.predict(batch), auto_output=auto)


FORMAT = ModelFormat("skops", load)
