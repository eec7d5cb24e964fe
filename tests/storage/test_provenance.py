"""Provenance records software, code revision and machine, and never fails outside git."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow
import pytest

from storage.provenance import collect_provenance, package_versions


def _git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def _collect(suite_path: Path) -> dict:
    return collect_provenance(
        suite_path=suite_path, suite_hash="f00d", seed=13, models={"mlp": "aa" * 32}, datasets={"test": "bb" * 32}
    )


def test_provenance_in_a_git_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "suites").mkdir(parents=True)
    suite = repo / "suites" / "digits.yaml"
    suite.write_text("name: digits\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "suites/digits.yaml")
    _git(repo, "commit", "-q", "-m", "suite")
    head = _git(repo, "rev-parse", "HEAD")

    clean = _collect(suite)
    assert clean["git"] == {"commit": head, "dirty": False, "root": str(repo.resolve())}
    suite.write_text("name: digits\nseed: 2\n")
    assert _collect(suite)["git"]["dirty"] is True

    assert clean["seed"] == 13 and clean["suite"]["hash"] == "f00d"
    assert clean["models"] == {"mlp": "aa" * 32} and clean["datasets"] == {"test": "bb" * 32}
    assert clean["packages"]["pandas"] == pd.__version__
    assert clean["packages"]["pyarrow"] == pyarrow.__version__
    assert set(clean["packages"]) >= {"numpy", "torch", "scikit-learn", "ray", "prefect", "evidently", "sqlmodel"}
    assert clean["cpu"]["count"] == os.cpu_count() and clean["cpu"]["model"]
    assert abs(datetime.fromisoformat(clean["timestamp"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert json.loads(json.dumps(clean)) == clean  # stored as JSON on the run


def test_provenance_outside_git_and_without_a_package(tmp_path: Path) -> None:
    suite = tmp_path / "digits.yaml"
    suite.write_text("name: digits\n")
    info = _collect(suite)
    assert info["git"] is None
    assert package_versions(("vigil-no-such-distribution",)) == {"vigil-no-such-distribution": None}


def test_gpu_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    info = _collect(Path("/nonexistent/suite.yaml"))
    if torch.cuda.is_available():
        assert info["gpu"]["count"] == torch.cuda.device_count()
    else:
        assert info["gpu"] is None
