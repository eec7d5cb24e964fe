"""Inference retries what may pass next time (a lost worker), never a fault of the suite's input nor a wait that ran out
(for the cluster to place actors, or for a stuck actor on every try)."""

from __future__ import annotations

import pytest
from prefect.states import Failed

from flows import drift_watch, shadow, tasks
from suite.errors import ChecksumError, DataError, PlacementTimeout, ShardTimeout, SpecError, VigilError


@pytest.mark.parametrize("error", [DataError("snapshot s.parquet: sample_id: no row for id 1"), ChecksumError("sha256 mismatch"),
                                   SpecError("suite.yaml", "models[0].path", "expected a file"),
                                   PlacementTimeout("model m: 2 actors asking for 1 CPU each were not placed within 300 s"),
                                   ShardTimeout("model m: shard 0 failed on 4 actors (workers.max_retries is 3): no shard finished")])
def test_bad_input_and_placement_timeouts_fail_at_once(error: Exception) -> None:
    for task in (tasks.infer, tasks.persist, shadow.infer, shadow.persist, drift_watch.windows):  # every task that retries
        assert task.retries >= 1
        assert task.retry_condition_fn(task, None, Failed(data=error)) is False


@pytest.mark.parametrize("error", [RuntimeError("actor died"), VigilError("in a worker: OSError: disk full"), TimeoutError()])
def test_other_failures_are_retried(error: Exception) -> None:
    assert tasks.infer.retry_condition_fn(tasks.infer, None, Failed(data=error)) is True
