"""Where Vigil keeps things, read from the environment at the edge.

``VIGIL_HOME`` (default ``./.vigil``) holds Parquet results, predictions,
artifacts and the default SQLite index. ``VIGIL_INDEX_URL`` points the index at
any SQLAlchemy URL (Postgres for a team). ``VIGIL_RAY_ADDRESS`` connects to a
running Ray cluster instead of starting a local one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from suite.ids import check_run_id


@dataclass(frozen=True)
class Settings:
    """Resolved locations and addresses for one process."""

    home: Path
    index_url: str
    ray_address: str | None

    @property
    def results_dir(self) -> Path:
        """Root of the Parquet results dataset (partitioned by suite and date)."""
        return self.home / "results"

    @property
    def runs_dir(self) -> Path:
        """Per-run folders: predictions, reports, artifacts."""
        return self.home / "runs"

    def run_dir(self, run_id: str) -> Path:
        """``runs/<run_id>``, once ``run_id`` passed :func:`suite.ids.check_run_id` (never a path outside ``runs``)."""
        return self.runs_dir / check_run_id(run_id)

    @property
    def cache_dir(self) -> Path:
        """Content-addressed prediction cache (model sha × data sha × variant)."""
        return self.home / "cache"


def load_settings(ray_address: str | None = None, home: str | Path | None = None) -> Settings:
    """Settings from the environment, with explicit arguments taking precedence."""
    root = Path(home or os.environ.get("VIGIL_HOME") or ".vigil").absolute()
    url = os.environ.get("VIGIL_INDEX_URL") or f"sqlite:///{root / 'index.db'}"
    address = ray_address or os.environ.get("VIGIL_RAY_ADDRESS") or None
    return Settings(home=root, index_url=url, ray_address=address)


def pause_for_tests(stage: str, home: Path) -> None:
    """Test hook: with ``VIGIL_TEST_PAUSE_AT=<stage>``, wait at the start of ``stage``.

    Fault tests (``tests/reliability``) set it to kill a run, or race it, at a
    known point: the process writes its pid to ``<home>/paused-at-<stage>``
    and waits until that file is deleted (then goes on) or it is killed.
    Stages: ``infer``, ``score``, ``persist``, ``commit`` (inside the commit,
    after the run folder moved into place and before the index transaction).
    Unset (always, outside tests), it does nothing.
    """
    if os.environ.get("VIGIL_TEST_PAUSE_AT") != stage:
        return
    import time

    flag = home / f"paused-at-{stage}"
    home.mkdir(parents=True, exist_ok=True)
    flag.write_text(f"{os.getpid()}\n")
    while flag.exists():
        time.sleep(0.1)
