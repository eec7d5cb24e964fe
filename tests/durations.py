"""Long files first: how ``make test`` keeps its two xdist workers busy to the end.

``make test`` deals whole files to its workers (``--dist loadfile``), in the order the
tests were collected (``--no-loadscope-reorder``; xdist's own order is by test count,
which put the few-test, minutes-long files — a whole pipeline, a server, a crash and
rerun — last, one worker running one of them while the other sat idle).
:func:`longest_first` orders the files by their seconds in ``tests/durations.json``
(a file not in it keeps its place after those that are). The order changes only
when tests run, never what they check.

``make test-durations`` runs the suite with ``--record-durations``, which writes into
that file the seconds of each file it ran (setup, calls and teardown, summed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FILE = Path(__file__).with_name("durations.json")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def longest_first(items: list[pytest.Item]) -> None:
    """Sort ``items`` (stably) so the files with the most recorded seconds come first."""
    try:
        seconds = json.loads(FILE.read_text())
    except (OSError, ValueError):
        return
    items.sort(key=lambda item: -float(seconds.get(_file(item.nodeid), 0.0)))


def add_option(parser: pytest.Parser) -> None:
    parser.addoption("--record-durations", action="store_true",
                     help="write each test file's seconds to tests/durations.json (the order `make test` deals files in)")


class Recorder:
    """Sums every report's duration per file (on the xdist controller, which hears every worker's reports)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.seconds[_file(report.nodeid)] = self.seconds.get(_file(report.nodeid), 0.0) + report.duration

    def pytest_sessionfinish(self) -> None:
        """Write the files this run timed over their old entries (a run of some files keeps the others')."""
        try:
            seconds = {f: s for f, s in json.loads(FILE.read_text()).items() if Path(f).exists()}
        except (OSError, ValueError):
            seconds = {}
        seconds.update((f, round(s, 1)) for f, s in self.seconds.items())
        ordered = dict(sorted(seconds.items(), key=lambda pair: -pair[1]))
        FILE.write_text(json.dumps(ordered, indent=1) + "\n")


def register(config: pytest.Config) -> None:
    """Record durations in this run when asked (on the controller only: workers' reports reach it)."""
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Recorder(), "vigil-durations")
