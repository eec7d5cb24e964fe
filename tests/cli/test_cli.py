"""The vigil command line as a user meets it: exit codes, --json documents, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.slow  # every test runs `vigil` in a subprocess or a flow on the session's Prefect server and Ray

ROOT = Path(__file__).resolve().parents[2]
VIGIL = [sys.executable, "-m", "cli.main"]


def _vigil(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VIGIL_INDEX_URL", None)
    return subprocess.run([*VIGIL, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def test_tampered_checkpoint_is_refused_with_one_line(digits_suite: Path, tmp_path: Path) -> None:
    checkpoint = digits_suite.parent / "checkpoints" / "candidate.pt"
    checkpoint.write_bytes(checkpoint.read_bytes() + b"tampered")
    result = _vigil("run", str(digits_suite), home=tmp_path / "home")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "model cnn" in lines[0] and "sha256 mismatch" in lines[0]
    assert not (tmp_path / "home" / "results").exists()


def test_malformed_suite_exits_2_naming_file_and_field(digits_suite: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(digits_suite.read_text())
    doc["models"][1]["batch_size"] = -4
    digits_suite.write_text(yaml.safe_dump(doc))
    result = _vigil("run", str(digits_suite), home=tmp_path / "home")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("models[1].batch_size: expected a positive integer, got -4")
    assert result.stdout == ""


def test_unknown_metric_suggests_the_nearest(digits_suite: Path, tmp_path: Path) -> None:
    slim_suite(digits_suite, metrics=["acuracy"])
    result = _vigil("validate", str(digits_suite), home=tmp_path / "home")
    assert result.returncode == 2
    assert "metrics[0]: unknown metric 'acuracy'; did you mean 'accuracy'?" in result.stderr


@pytest.mark.usefixtures("prefect_server")
def test_run_then_list_show_history_as_json(digits_suite: Path, vigil_home: Path) -> None:
    slim_suite(digits_suite)
    runner = CliRunner()
    ran = runner.invoke(app, ["run", str(digits_suite), "--run-id", "cli-run", "--json"])
    assert ran.exit_code == 0, ran.output
    shown = json.loads(ran.stdout)
    assert shown["run_id"] == "cli-run" and shown["verdict"] == "pass"
    listed = runner.invoke(app, ["runs", "--json"])
    assert [r["run_id"] for r in json.loads(listed.stdout)] == ["cli-run"]
    show = runner.invoke(app, ["show", "cli-run", "--json"])
    document = json.loads(show.stdout)
    assert {"python", "packages", "hostname", "git", "cpu", "gpu", "models", "datasets", "seed", "suite"} <= set(document["provenance"])
    assert {r["slice"] for r in document["results"]} >= {"all", "label=0", "label=9"}
    history = runner.invoke(app, ["history", "--suite", "digits", "--metric", "accuracy", "--model", "cnn", "--json"])
    points = json.loads(history.stdout)
    assert len(points) == 1 and points[0]["run_id"] == "cli-run"
    table = runner.invoke(app, ["show", "cli-run"])
    assert "PASS" in table.stdout and "macro_f1" in table.stdout


@pytest.mark.usefixtures("prefect_server")
def test_failed_gate_exits_1(digits_suite: Path, vigil_home: Path) -> None:
    slim_suite(digits_suite, gates=[{"metric": "accuracy", "min": 0.999}])
    result = CliRunner().invoke(app, ["run", str(digits_suite)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.stdout


def test_failing_data_check_names_file_and_column(cancer_suite: Path, tmp_path: Path) -> None:
    doc = yaml.safe_load(cancer_suite.read_text())
    doc["datasets"][0]["checks"]["columns"]["mean_radius"]["max"] = 10
    cancer_suite.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = _vigil("validate", str(cancer_suite), home=tmp_path / "home")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "column 'mean_radius'" in lines[0] and "expected values <= 10" in lines[0] and "suite.yaml, datasets[0].checks" in lines[0]
