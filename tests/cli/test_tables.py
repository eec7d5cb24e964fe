"""What `vigil runs`, `show` and `compare` print at 80 and 120 columns: run ids whole, no line wider than the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from tests.cli.conftest import widest_line

ROOT = Path(__file__).resolve().parents[2]


def _vigil(*args: str, columns: int) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": str(columns)}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("columns", [80, 120])
def test_runs_lists_whole_run_ids_within_the_width(stored_runs: Callable[..., list[str]], columns: int) -> None:
    ids = stored_runs()
    code, stdout, _ = _vigil("runs", columns=columns)
    assert code == 0
    assert all(run_id in stdout for run_id in ids), stdout
    assert "…" not in stdout
    assert widest_line(stdout) <= columns, stdout


def test_runs_at_80_columns_in_a_real_process(stored_runs: Callable[..., list[str]], vigil_home: Path) -> None:
    ids = stored_runs()
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "cli.main", "runs"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert all(run_id in result.stdout for run_id in ids)
    assert widest_line(result.stdout) <= 80, result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_compare_fits_and_names_both_runs(stored_runs: Callable[..., list[str]], columns: int) -> None:
    a, b = stored_runs(accuracy=(0.80, 0.95))
    code, stdout, _ = _vigil("compare", a, b, columns=columns)
    assert code == 0
    assert a in stdout and b in stdout
    assert "…" not in stdout
    assert widest_line(stdout) <= columns, stdout
    assert "+0.1500" in stdout  # mlp · clean · all · accuracy went from 0.80 to 0.95


def test_compare_of_identical_runs_says_no_changes(stored_runs: Callable[..., list[str]]) -> None:
    a, b = stored_runs()  # same seed: every value equal
    code, stdout, _ = _vigil("compare", a, b, columns=80)
    assert code == 0
    assert "no changes: all 16 rows have the same value in both runs" in stdout
    code, stdout, _ = _vigil("compare", a, b, "--json", columns=80)
    assert json.loads(stdout) == []


def test_compare_warns_when_the_suites_differ(stored_runs: Callable[..., list[str]]) -> None:
    (a,) = stored_runs("digits-run", suite="digits")
    (b,) = stored_runs("cancer-run", suite="breast-cancer")
    code, stdout, stderr = _vigil("compare", a, b, columns=80)
    assert code == 0
    assert "warning: comparing runs of different suites: digits-run is suite 'digits', cancer-run is suite 'breast-cancer'" in " ".join(stderr.split())


@pytest.mark.parametrize("columns", [80, 120])
def test_show_defaults_to_a_summary_that_fits(stored_runs: Callable[..., list[str]], columns: int) -> None:
    run_id = stored_runs()[0]
    code, stdout, _ = _vigil("show", run_id, columns=columns)
    assert code == 0
    assert run_id in stdout and "PASS" in stdout
    assert "Worst slices by accuracy" in stdout and "label=3" in stdout
    assert "Per variant and slice" not in stdout  # the rows themselves only with --all or a filter
    assert "rows per model × variant × slice × metric not shown" in stdout
    assert widest_line(stdout) <= columns, stdout


def test_show_all_and_filters_list_the_rows(stored_runs: Callable[..., list[str]]) -> None:
    run_id = stored_runs()[0]
    _, everything, _ = _vigil("show", run_id, "--all", columns=80)
    assert "Per variant and slice" in everything and "gaussian_noise:3" in everything
    _, some, _ = _vigil("show", run_id, "--metric", "accuracy", "--variant", "gaussian_noise:3", "--slice", "label=3", columns=80)
    assert "Per variant and slice" in some and "variant gaussian_noise:3" in some and "metric accuracy" in some
    assert widest_line(some) <= 80
    _, document, _ = _vigil("show", run_id, "--json", columns=80)
    assert len(json.loads(document)["results"]) == 16  # --json unchanged: every row
    _, filtered, _ = _vigil("show", run_id, "--json", "--metric", "accuracy", "--model", "mlp", columns=80)
    assert {(r["metric"], r["model"]) for r in json.loads(filtered)["results"]} == {("accuracy", "mlp")}
    # each row says how its interval was made, as the factory recorded it per slice
    assert {(r["slice"], r["ci_method"]) for r in json.loads(filtered)["results"]} == {("all", "normal-sums"), ("label=3", "bootstrap")}
