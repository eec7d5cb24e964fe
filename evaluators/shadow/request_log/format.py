"""The shadow request-log format: its columns and their types, its version, and what ``candidate_status`` means.

The mirror's writer (:mod:`mirror.shadow`), the reader (:mod:`.reader`, driven by
:mod:`pipeline.shadow.log`), the replay (:mod:`pipeline.shadow.replay`) and the
report (:mod:`evaluators.shadow.report`) name every column and status from here;
none of them spells one out.

Types are named by :class:`ColumnType`, not by an engine: ``storage.request_log.arrow_schema``
turns a list of (column, type) pairs into the Parquet schema, so this module stays
plain Python that the evaluators may import.

Example:
    >>> [name for name, _ in MIRROR_COLUMNS][:3]
    ['request_id', 'timestamp', 'method']
    >>> CandidateStatus("dropped_timeout").meaning
    'the candidate did not answer within candidate_timeout_s'
    >>> CandidateStatus.OK == "ok", CandidateStatus.EMPTY in DROPPED
    (True, False)
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

FORMAT_VERSION = 1
"""Version of the columns and statuses below. Logs carry no version column (the first
format had none), so a change that existing logs would not satisfy must bump this and
keep reading version 1."""

REQUEST_ID = "request_id"
TIMESTAMP = "timestamp"
FEATURES = "features"
PREDICTION = "prediction"
SCORES = "scores"
LATENCY_MS = "latency_ms"
LABEL = "label"
METHOD = "method"
PATH = "path"
HTTP_STATUS = "status"
"""Production's HTTP status code (the mirror's column ``status``; not the candidate's ``candidate_status``)."""
CANDIDATE_PREDICTION = "candidate_prediction"
CANDIDATE_SCORES = "candidate_scores"
CANDIDATE_LATENCY_MS = "candidate_latency_ms"
CANDIDATE_STATUS = "candidate_status"

REQUIRED_COLUMNS = (REQUEST_ID, TIMESTAMP, LATENCY_MS)
"""Columns every row must carry (besides ``prediction`` or ``scores``, and the features)."""
CANDIDATE_COLUMNS = (CANDIDATE_PREDICTION, CANDIDATE_SCORES, CANDIDATE_LATENCY_MS, CANDIDATE_STATUS)
"""The mirror's record of the candidate's answer, beside production's."""

ROW_NUMBER, REASON, RAW = "row_number", "reason", "raw"


class ColumnType(StrEnum):
    """A column's stored type, named without an engine (``storage.request_log.arrow_schema`` maps it)."""

    STRING = "string"
    INT32 = "int32"
    INT64 = "int64"
    FLOAT64 = "float64"
    FLOAT64_LIST = "list<float64>"
    TIMESTAMP = "timestamp[us, UTC]"


MIRROR_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    (REQUEST_ID, ColumnType.STRING),
    (TIMESTAMP, ColumnType.TIMESTAMP),
    (METHOD, ColumnType.STRING),
    (PATH, ColumnType.STRING),
    (HTTP_STATUS, ColumnType.INT32),
    (FEATURES, ColumnType.STRING),  # the request's features as a JSON object (sensitive fields hashed)
    (PREDICTION, ColumnType.FLOAT64),
    (SCORES, ColumnType.FLOAT64_LIST),
    (LATENCY_MS, ColumnType.FLOAT64),
    (CANDIDATE_PREDICTION, ColumnType.FLOAT64),
    (CANDIDATE_SCORES, ColumnType.FLOAT64_LIST),
    (CANDIDATE_LATENCY_MS, ColumnType.FLOAT64),
    (CANDIDATE_STATUS, ColumnType.STRING),
)
"""The columns of the log ``vigil shadow mirror`` writes, in order."""

QUARANTINE_COLUMNS: tuple[tuple[str, ColumnType], ...] = (
    (ROW_NUMBER, ColumnType.INT64),  # 0-based line (JSONL) or row (Parquet) index
    (REQUEST_ID, ColumnType.STRING),
    (REASON, ColumnType.STRING),
    (RAW, ColumnType.STRING),
)
"""The columns of a quarantine file: one row per refused log row, with its reason and text."""


class CandidateStatus(StrEnum):
    """What became of the shadow copy of a request: the values of ``candidate_status``.

    The mirror writes every value but the last two; the reader writes ``missing`` and
    ``empty`` into the rows it validates. Only ``ok`` rows carry a candidate answer; with
    ``--from-mirror`` every other row is quarantined ``no_candidate_answer:<status>``.
    """

    meaning: str

    def __new__(cls, value: str, meaning: str) -> CandidateStatus:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = "ok", "the candidate answered; its prediction, scores and latency are logged"
    NOT_SHADOWED = "not_shadowed", "the mirror ran without a candidate (production only)"
    DROPPED_QUEUE_FULL = "dropped_queue_full", "the shadow queue was full, so the copy was never sent"
    DROPPED_TIMEOUT = "dropped_timeout", "the candidate did not answer within candidate_timeout_s"
    DROPPED_BUSY = "dropped_busy", "the candidate refused the copy (every worker busy)"
    DROPPED_ERROR = "dropped_error", "the candidate failed (an exception or an error answer)"
    DROPPED_SHUTDOWN = "dropped_shutdown", "the mirror stopped before the copy was sent"
    MISSING = "missing", "(reader) the row has no candidate_status"
    EMPTY = "empty", "(reader) status ok, but no finite prediction or scores of the right length"


DROPPED = tuple(s for s in CandidateStatus if s.name.startswith("DROPPED_"))
"""The statuses of a copy the mirror dropped (each counted in ``/_vigil/stats`` under its own name)."""


def candidate_answered(frame: pd.DataFrame) -> np.ndarray:
    """Which rows of a validated mirror log the candidate answered (``candidate_status`` ok)."""
    if CANDIDATE_STATUS not in frame:
        return np.zeros(len(frame), bool)
    return (frame[CANDIDATE_STATUS] == CandidateStatus.OK.value).to_numpy()


def candidate_outputs(frame: pd.DataFrame, task: str) -> tuple[np.ndarray, np.ndarray]:
    """The logged candidate outputs (``(n, k)`` scores, or ``(n,)`` predictions) and latencies of answered rows."""
    scores = frame[CANDIDATE_SCORES] if CANDIDATE_SCORES in frame else None
    if task != "regression" and len(frame) and scores is not None and scores.map(lambda s: s is not None and len(s) > 0).all():
        outputs = np.stack([np.asarray(s, dtype=float) for s in scores])
    else:
        outputs = frame[CANDIDATE_PREDICTION].to_numpy(dtype=float)
    latency = frame[CANDIDATE_LATENCY_MS].to_numpy(dtype=float) if CANDIDATE_LATENCY_MS in frame else np.full(len(frame), np.nan)
    return outputs, latency
