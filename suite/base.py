"""The base of every spec model: frozen, and unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Base for spec models: immutable, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
