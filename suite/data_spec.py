"""The suite's dataset entries: where a dataset comes from and what its columns mean.

Besides features, a label and a timestamp, a dataset may carry the outputs a model
already logged (``prediction``, ``scores`` or ``score_prefix``): `vigil drift` then
watches those outputs like a model's, so a suite can monitor production logs with no
model at all.

Example:
    >>> DatasetSpec(name="log", path="log.parquet", prediction="y_pred", score_prefix="p_").logged_columns(["a", "p_0", "p_1"])
    ['y_pred', 'p_0', 'p_1']
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from suite.base import Frozen
from suite.sections import DataChecksSpec

Sha256 = str


class DatasetSpec(Frozen):
    """A versioned dataset: a Parquet/CSV file or a built-in loader such as ``sklearn.digits``.

    Attributes:
        allow_nan: Feature columns that may hold NaN (for models that handle missing values); inf is never allowed.
        prediction: Column of logged predictions (a class, or a value for regression).
        scores: Columns of logged class scores, in class order.
        score_prefix: Prefix of the logged score columns (``p_`` for ``p_0, p_1``), instead of ``scores``.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    path: str | None = None
    loader: str | None = None
    split: Literal["train", "test", "all"] = "test"
    sha256: Sha256 | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    features: list[str] | None = None
    label: str | None = None
    timestamp: str | None = None
    id_column: str | None = None
    image_shape: tuple[PositiveInt, ...] | None = None
    use: Literal["evaluation", "reference"] = "evaluation"
    checks: DataChecksSpec | None = None
    allow_nan: list[str] = Field(default_factory=list, exclude_if=lambda names: not names)  # features that may hold NaN
    # Left out of the fingerprint when unset, so suites written before these keys keep theirs.
    prediction: str | None = Field(default=None, exclude_if=lambda v: v is None)
    scores: list[str] | None = Field(default=None, min_length=1, exclude_if=lambda v: v is None)
    score_prefix: str | None = Field(default=None, min_length=1, exclude_if=lambda v: v is None)

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if (self.path is None) == (self.loader is None):
            raise ValueError("give exactly one of path or loader")
        if self.scores is not None and self.score_prefix is not None:
            raise ValueError("give at most one of scores or score_prefix")
        return self

    @property
    def logs_outputs(self) -> bool:
        """Whether the dataset carries logged model outputs."""
        return self.prediction is not None or self.scores is not None or self.score_prefix is not None

    def logged_columns(self, columns: list[str]) -> list[str]:
        """The logged-output columns among ``columns``: the prediction, then the scores."""
        scores = list(self.scores or [])
        if self.score_prefix is not None:
            scores = [c for c in columns if c.startswith(self.score_prefix)]
        return ([self.prediction] if self.prediction is not None else []) + scores
