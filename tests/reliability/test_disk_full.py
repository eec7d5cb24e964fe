"""A full disk (ENOSPC) mid-run: exit 2 with one line, and no completed run in the index lacks its artifacts.

VIGIL_HOME is a 6 MiB tmpfs (mounted for the test: needs root; skipped off CI
when mount is not permitted, a failure on CI). The index lives outside it, as a
team's Postgres would. ``vigil drift`` on the breast-cancer example writes one
Evidently HTML report of about 4.7 MB per window: the first window fits, the
second does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import require

pytestmark = pytest.mark.slow  # `vigil drift` in a subprocess

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def tiny_home(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    mounted = shutil.which("mount") is not None and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mountpoint)], capture_output=True).returncode == 0
    require(mounted, "cannot mount a tmpfs here (needs root and mount permission)")
    try:
        yield mountpoint / "home"
    finally:
        if subprocess.run(["umount", str(mountpoint)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


def test_disk_full_while_saving_drift_html_exits_2_and_commits_nothing_half_written(tiny_home: Path, cancer_suite: Path, tmp_path: Path) -> None:
    index = f"sqlite:///{tmp_path / 'index.db'}"
    env = {**os.environ, "VIGIL_HOME": str(tiny_home), "VIGIL_INDEX_URL": index, "PYTHONPATH": str(ROOT)}
    env.pop("VIGIL_RAY_ADDRESS", None)
    result = subprocess.run([sys.executable, "-m", "cli.main", "drift", "--suite", str(cancer_suite), "--since", "2026-03-06"],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=400)
    assert result.returncode == 2, result.stdout + result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]  # the rest is progress
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    assert errors[0].startswith("error: OSError: [Errno 28] No space left on device"), errors[0]

    from storage.store import ResultStore
    from suite.settings import Settings

    store = ResultStore(Settings(home=tiny_home.absolute(), index_url=index, ray_address=None))
    runs = store.list_runs(limit=100)
    completed = [r.run_id for r in runs if r.status == "completed"]
    assert len(completed) == 1 and completed[0].endswith("20260306T000000-20260307T000000"), f"expected the first window only: {completed}"
    for record in runs:
        run = store.get_run(record.run_id)
        assert run is not None
        if run.status != "completed":
            continue
        for artifact in run.artifacts:
            path = Path(urlparse(artifact.uri).path)
            assert path.is_file() and path.stat().st_size > 0, f"run {run.run_id}: artifact {artifact.kind} missing at {path}"
        assert not store.run_results(run.run_id).empty
