"""The mirror's settings: a frozen, validated model built by the CLI from flags or a file."""

from __future__ import annotations

from pydantic import Field, PositiveInt, model_validator

from suite.spec import Frozen


class MirrorConfig(Frozen):
    """Where to listen, where production and the candidate live, and how shadowing is bounded.

    Example:
        >>> MirrorConfig(production_url="http://127.0.0.1:8000", log_dir="shadow-log").host
        '127.0.0.1'
    """

    production_url: str = Field(pattern=r"^https?://")
    log_dir: str
    candidate_url: str | None = Field(default=None, pattern=r"^https?://")
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    queue_size: PositiveInt = 1000
    candidate_concurrency: PositiveInt = 4
    candidate_timeout_s: float = Field(default=1.0, gt=0)
    production_timeout_s: float = Field(default=30.0, gt=0)
    drain_timeout_s: float = Field(default=5.0, ge=0)
    batch_rows: PositiveInt = 1000
    flush_seconds: float = Field(default=1.0, gt=0)
    shadow_methods: tuple[str, ...] = ("POST",)
    shadow_path_prefix: str = "/"
    sensitive_fields: tuple[str, ...] = ()
    salt: str | None = Field(default=None, repr=False)
    features_key: str = "features"
    prediction_key: str = "prediction"
    scores_key: str = "scores"
    request_id_header: str = "x-request-id"

    @model_validator(mode="after")
    def _sensitive_fields_need_a_salt(self) -> MirrorConfig:
        if self.sensitive_fields and not self.salt:
            raise ValueError("sensitive_fields: expected a per-deployment salt (salt or VIGIL_MIRROR_SALT), got none")
        return self
