"""Fixtures for the CLI's rendering tests: stored runs without running a flow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from storage.store import ResultStore
from suite.settings import load_settings
from tests.storage.factories import make_results, make_run

LONG_IDS = ("digits-20261126T060819-f070de", "digits-20261127T020000-3b9a1c")


@pytest.fixture()
def stored_runs(vigil_home: Path) -> Callable[..., list[str]]:
    """Commit runs (long, realistic ids by default) to the test's VIGIL_HOME; returns their ids."""

    def commit(*run_ids: str, suite: str = "digits", accuracy: tuple[float, ...] = (), seed: int = 0) -> list[str]:
        store = ResultStore(load_settings())
        for day, run_id in enumerate(run_ids or LONG_IDS):
            run = make_run(run_id, suite=suite, day=day)
            store.commit_run(run, make_results(run, accuracy=(accuracy or (0.9,) * 9)[day], seed=seed))
        store.close()
        return list(run_ids or LONG_IDS)

    return commit


def widest_line(text: str) -> int:
    """The longest line of ``text``, in characters."""
    return max((len(line.rstrip("\n")) for line in text.splitlines()), default=0)
