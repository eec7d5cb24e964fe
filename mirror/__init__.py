"""Shadow-traffic mirror: a reverse proxy that answers with production and copies traffic to a candidate.

Production's answer is returned unchanged; the candidate sees the same request
in the background, and both answers land in a Parquet request log
(``evaluators.shadow.log_schema.MIRROR_LOG_SCHEMA``) that
``evaluators.shadow.log_reader`` reads back for replay.
"""

from mirror.config import MirrorConfig
from mirror.server import run_mirror

__all__ = ["MirrorConfig", "run_mirror"]
