"""Shadow-traffic mirror: a reverse proxy that answers with production and copies traffic to a candidate.

Production's answer is returned unchanged; the candidate sees the same request
in the background, and both answers land in a Parquet request log whose columns
and ``candidate_status`` values are ``evaluators.shadow.request_log.format``'s, the
same definition the replay reads it back with.
"""

from mirror.config import MirrorConfig
from mirror.server import run_mirror

__all__ = ["MirrorConfig", "run_mirror"]
