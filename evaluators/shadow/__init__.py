"""Shadow-traffic evaluation: compare a candidate with production on the same logged requests.

Pure functions over aligned arrays (agreement, flips, score deltas, rank
correlation, latency, paired tests) and :func:`replay_compare`, which turns a
validated request log plus the candidate's outputs into a :class:`ShadowReport`.
"""

from evaluators.shadow.report import ShadowReport, logged_candidate, replay_compare

__all__ = ["ShadowReport", "logged_candidate", "replay_compare"]
