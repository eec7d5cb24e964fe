"""Errors that Vigil reports to a user as one clear line.

Every error a user can cause (a malformed suite, a missing or tampered
checkpoint, a corrupt data row) is a :class:`VigilError`; the CLI prints its
message and exits with status 2.
"""

from __future__ import annotations


class VigilError(Exception):
    """A user-facing error whose message is one line naming what went wrong."""


class SpecError(VigilError):
    """A suite file is malformed: names the file, the key path and what was expected.

    Example:
        >>> str(SpecError("digits.yaml", "models[1].batch_size", "expected a positive integer, got -4"))
        'suite digits.yaml: models[1].batch_size: expected a positive integer, got -4'
    """

    def __init__(self, file: str, location: str, problem: str) -> None:
        self.file, self.location, self.problem = file, location, problem
        where = f"{location}: " if location else ""
        super().__init__(f"suite {file}: {where}{problem}")


class ChecksumError(VigilError):
    """A model or data file does not match the sha256 the suite pins for it."""


class DataError(VigilError):
    """A dataset is missing, unreadable, or fails its declared checks."""


class PlacementTimeout(VigilError):
    """The cluster did not place a run's actors within ``workers.start_timeout_s`` (too small, or busy).

    The wait already was the retry: a run does not wait again.
    """


class ShardTimeout(VigilError):
    """A shard's actor finished nothing within ``workers.shard_timeout_s`` on every try (``workers.max_retries``).

    Each try already waited the timeout on a fresh actor: a run does not start them all again.
    """
