"""Run ids: one validator (suite.ids.check_run_id) at every entry; nothing can name a path outside VIGIL_HOME."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from cli.main import app
from pipeline.evaluate.prepare import prepare_run
from storage.store import ResultStore
from suite.errors import VigilError
from suite.ids import MAX_RUN_ID_LENGTH, check_run_id, is_run_id
from suite.settings import load_settings

HOSTILE = ["../../x", "..", ".", "", "a/b", "a\\b", "/etc", ".hidden", "-rf", "a..b", "x" * (MAX_RUN_ID_LENGTH + 1),
           "run\n2", "run id", "ü", "run\x00", "~", "a:b", "\u2024\u2024"]
ids = st.one_of(st.text(max_size=130), st.text(alphabet="abc./\\-_0~:\n", max_size=12), st.sampled_from(HOSTILE))


@settings(max_examples=200, deadline=None)
@given(value=ids)
def test_an_accepted_run_id_is_one_plain_segment_under_its_folder(value: str) -> None:
    base = Path("/vigil/runs")
    try:
        checked = check_run_id(value)
    except VigilError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("run id: expected ")
        assert not is_run_id(value)
        return
    assert checked == value and is_run_id(value)
    target = (base / checked).resolve()
    assert target.parent == base and target.name == value
    assert not value.startswith((".", "-")) and ".." not in value and len(value) <= MAX_RUN_ID_LENGTH


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_ids_are_refused_by_every_path_builder(value: str, vigil_home: Path) -> None:
    settings_ = load_settings()
    with pytest.raises(VigilError, match="run id: expected"):
        check_run_id(value)
    with pytest.raises(VigilError, match="run id: expected"):
        ResultStore(settings_).staging_dir(value)
    with pytest.raises(VigilError, match="run id: expected"):
        settings_.run_dir(value)


def test_generated_ids_pass(vigil_home: Path) -> None:
    from datetime import UTC, datetime

    from pipeline.evaluate.prepare import new_run_id

    assert is_run_id(new_run_id("s" * 200, datetime.now(UTC)))
    assert ResultStore(load_settings()).staging_dir("digits-20260101T000000-abcdef").name == "digits-20260101T000000-abcdef"


def test_prepare_run_refuses_before_reading_the_suite(tmp_path: Path) -> None:
    with pytest.raises(VigilError, match=r"^run id: expected .*got '\.\./\.\./x'$"):
        prepare_run(tmp_path / "absent.yaml", run_id="../../x")


@pytest.mark.parametrize("args", [
    ["run", "SUITE", "--run-id", "../../x"],
    ["show", "../../x"],
    ["show", "--json", "../x"],
    ["report", "../../x", "--out", "OUT"],
    ["compare", "ok-run", "../../x"],
    ["shadow", "replay", "--log", "LOG", "--suite", "SUITE", "--run-id", "../../x"],
])
def test_cli_entries_refuse_a_traversing_run_id_with_one_line(args: list[str], vigil_home: Path, tmp_path: Path) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: s\n")
    args = [{"SUITE": str(suite), "LOG": str(tmp_path / "log.jsonl"), "OUT": str(tmp_path / "r.html")}.get(a, a) for a in args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "expected 1-120 letters" in lines[0], result.stderr
    assert not (vigil_home.parent / "x").exists() and not (tmp_path / "r.html").exists()


@settings(max_examples=30, deadline=None)
@given(value=ids, command=st.sampled_from(["show", "report"]))
def test_fuzzed_ids_through_show_and_report(value: str, command: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    import os

    home = tmp_path_factory.mktemp("home")
    os.environ["VIGIL_HOME"] = str(home / "vigil")
    try:
        result = CliRunner().invoke(app, [command, "--", value])
    finally:
        del os.environ["VIGIL_HOME"]
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert ("not found" in lines[0]) if is_run_id(value) else ("expected 1-120 letters" in lines[0]), lines[0]
    assert sorted(p.name for p in home.iterdir()) in ([], ["vigil"])
