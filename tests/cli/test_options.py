"""The CLI's options as a user meets them: --help, --version, --suite, counts and units, an unknown metric."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from cli.render import plural, with_units
from storage.store import ResultStore
from suite.settings import load_settings
from tests.storage.factories import make_results, make_run


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "100"}).invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", [[], ["run"], ["show"], ["compare"], ["shadow", "replay"], ["notify", "model-updated"], ["backfill"]])
def test_help_shows_flags_without_a_type(command: list[str]) -> None:
    code, stdout, _ = _invoke(*command, "--help")
    assert code == 0
    assert "--help" in stdout
    assert "<bool>" not in stdout


def test_version_comes_from_the_package_metadata() -> None:
    code, stdout, _ = _invoke("--version")
    assert code == 0
    assert stdout.strip() == f"vigil {importlib.metadata.version('vigil')}"


def test_counts_are_pluralised_and_latencies_carry_their_unit() -> None:
    assert [plural(n, "dataset") for n in (1, 3)] == ["1 dataset", "3 datasets"]
    frame = pd.DataFrame({"metric": ["agreement_rate", "latency_p50_candidate"], "value": [0.9, 3.5], "n": [10, 10]})
    assert with_units(frame)["unit"].tolist() == ["", "ms"]
    assert list(with_units(frame).columns) == ["metric", "value", "unit", "n"]


def test_validate_counts_every_dataset(cancer_suite: Path, vigil_home: Path) -> None:
    code, stdout, _ = _invoke("validate", str(cancer_suite))
    assert code == 0, stdout
    assert "3 datasets: 1 evaluation, 2 reference" in stdout and "2 models loaded" in stdout


def test_history_of_an_unknown_metric_lists_the_known_ones(stored_runs: Callable[..., list[str]]) -> None:
    stored_runs()
    code, stdout, _ = _invoke("history", "--suite", "digits", "--metric", "acuracy")
    assert code == 0
    flat = " ".join(stdout.split())
    assert "unknown metric 'acuracy' in suite 'digits' (did you mean 'accuracy'?)" in flat
    assert "accuracy, macro_f1" in flat
    _, stdout, _ = _invoke("history", "--suite", "digit", "--metric", "accuracy")
    assert "no runs of suite 'digit' (did you mean 'digits'?)" in " ".join(stdout.split())


def test_suite_is_a_file_or_a_stored_name_everywhere(stored_runs: Callable[..., list[str]], tmp_path: Path) -> None:
    from cli.common import suite_file, suite_name

    stored_runs()
    (other,) = stored_runs("cancer-run", suite="breast-cancer")
    suite_yaml = tmp_path / "suite.yaml"
    suite_yaml.write_text(yaml.safe_dump({"name": "breast-cancer"}))  # runs/history only read its name
    code, by_name, _ = _invoke("runs", "--suite", "breast-cancer", "--json")
    assert code == 0 and other in by_name
    assert suite_name(str(Path(__file__).resolve().parents[2] / "examples" / "digits" / "suite.yaml")) == "digits"
    # a stored name resolves to the file its latest run was made from
    store = ResultStore(load_settings())
    run = make_run("digits-latest", day=9)
    run = run.model_copy(update={"provenance": {**run.provenance, "suite": {"path": str(suite_yaml), "hash": "x"}}})
    store.commit_run(run, make_results(run))
    assert suite_file("digits") == str(suite_yaml)
    assert suite_file(str(suite_yaml)) == str(suite_yaml)
    code, _, stderr = _invoke("drift", "--suite", "no-such-suite")
    assert code == 2 and "expected a suite YAML file or the name of a suite with stored runs, got 'no-such-suite'" in " ".join(stderr.split())


def test_backfill_takes_suite_as_an_option_and_the_old_positional_with_a_warning(monkeypatch: pytest.MonkeyPatch, vigil_home: Path) -> None:
    import flows.backfill

    calls: list[str] = []
    monkeypatch.setattr(flows.backfill, "backfill", lambda suite_path, **_: calls.append(suite_path) or {"ran": [], "skipped": [], "curve": []})
    suite = str(Path(__file__).resolve().parents[2] / "examples" / "digits" / "suite.yaml")
    code, stdout, stderr = _invoke("backfill", "--suite", suite, "--freq", "M")
    assert code == 0 and "0 pieces run" in stdout and "deprecated" not in stderr
    code, _, stderr = _invoke("backfill", suite, "--freq", "M")
    assert code == 0 and "`vigil backfill SUITE` is deprecated" in stderr
    assert calls == [suite, suite]
    code, _, stderr = _invoke("backfill", "--freq", "M")
    assert code == 2 and "expected --suite" in stderr


def test_plain_progress_prints_start_throttled_steps_and_end(capsys: pytest.CaptureFixture[str]) -> None:
    from cli.render import PlainProgress

    now = [0.0]
    progress = PlainProgress(every=10.0)
    progress._clock = lambda: now[0]
    for done in range(0, 101):
        now[0] = done * 0.5  # 50 s in all: a line at the start, every 10 s, and at the end
        progress.update("infer", done, 100, "cnn · clean")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "infer: started, 100 to do (cnn · clean)"
    assert lines[1] == "infer: 20/100 (cnn · clean), 10 s"
    assert lines[-1] == "infer: done, 100/100 in 50 s"
    assert len(lines) == 2 + 4  # start, 10/20/30/40 s, end
