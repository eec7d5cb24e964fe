"""The CLI's one error boundary: exit 2 with one line for every error, exit 1 only for a gate, tracebacks only with --verbose."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from pydantic import BaseModel
from typer.testing import CliRunner

from cli.boundary import VigilGroup, set_verbose
from suite.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


class _Strict(BaseModel):
    n: int


def _raise(kind: str) -> None:
    errors: dict[str, BaseException] = {
        "vigil": DataError("suite s.yaml: datasets[0] (d): column x: 3 NaN values in 9 rows"),
        "enospc": OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/home/v/runs/r/drift.html"),
        "recursion": RecursionError("maximum recursion depth exceeded"),
        "memory": MemoryError(),
        "unicode": UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        "key": KeyError("label"),
        "multiline": ValueError("first line\n  second line\n"),
    }
    if kind == "worker":
        wrapped = RuntimeError("ray::Actor.predict() (pid=1) Traceback ... long remote traceback")
        wrapped.cause = KeyError("boom-column")  # type: ignore[attr-defined]  # how Ray's RayTaskError carries it
        raise wrapped
    if kind == "pydantic":
        _Strict.model_validate({"n": "many"})
    if kind == "gate":
        raise typer.Exit(1)
    if kind == "system-exit":
        raise SystemExit(3)
    if kind == "interrupt":
        raise KeyboardInterrupt
    raise errors[kind]


def _app() -> typer.Typer:
    app = typer.Typer(cls=VigilGroup, pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def options(verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
        set_verbose(verbose, reset=True)

    @app.command()
    def boom(kind: str) -> None:
        _raise(kind)

    @app.command()
    def ok() -> None:
        typer.echo("fine")

    return app


APP = _app()


def _invoke(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(APP, list(args))
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


@pytest.mark.parametrize(("kind", "expected"), [
    ("vigil", "error: suite s.yaml: datasets[0] (d): column x: 3 NaN values in 9 rows"),
    ("enospc", "error: OSError: [Errno 28] No space left on device: /home/v/runs/r/drift.html (rerun with --verbose for the traceback)"),
    ("recursion", "error: RecursionError: maximum recursion depth exceeded (rerun with --verbose for the traceback)"),
    ("memory", "error: MemoryError: no message (rerun with --verbose for the traceback)"),
    ("unicode", "error: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte (rerun with --verbose for the traceback)"),
    ("key", "error: KeyError: 'label' (rerun with --verbose for the traceback)"),
    ("multiline", "error: ValueError: first line second line (rerun with --verbose for the traceback)"),
    ("worker", "error: in a worker: KeyError: 'boom-column' (rerun with --verbose for the traceback)"),
])
def test_every_error_is_exit_2_and_one_line(kind: str, expected: str) -> None:
    code, lines, _ = _invoke("boom", kind)
    assert code == 2
    assert lines == [expected]


def test_a_pydantic_error_is_one_line() -> None:
    code, lines, _ = _invoke("boom", "pydantic")
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: ValidationError: 1 validation error for _Strict n Input should be a valid integer")


def test_verbose_adds_the_traceback_and_still_ends_with_the_line() -> None:
    code, lines, text = _invoke("--verbose", "boom", "recursion")
    assert code == 2
    assert text.startswith("Traceback (most recent call last):") and "in _raise" in text
    assert lines[-1] == "error: RecursionError: maximum recursion depth exceeded"
    code, lines, _ = _invoke("boom", "recursion")  # the flag does not stick to the next invocation
    assert len(lines) == 1


@pytest.mark.parametrize(("kind", "code"), [("gate", 1), ("system-exit", 3), ("interrupt", 130)])
def test_exits_pass_through(kind: str, code: int) -> None:
    got, lines, text = _invoke("boom", kind)
    assert got == code
    assert "Traceback" not in text and not any(line.startswith("error:") for line in lines)


def test_usage_errors_keep_click_exit_2_and_success_is_0() -> None:
    assert _invoke("boom")[0] == 2
    assert _invoke("nope")[0] == 2
    assert CliRunner().invoke(APP, ["ok"]).exit_code == 0


def _vigil(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VIGIL_INDEX_URL", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


@pytest.mark.slow  # `vigil` in a subprocess
def test_validate_on_random_bytes_and_a_deep_nest_through_the_real_cli(tmp_path: Path) -> None:
    noise = tmp_path / "noise.yaml"
    noise.write_bytes(bytes([0xFF, 0x00]) + os.urandom(254))
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 100_000 + "]" * 100_000)
    for path, message in ((noise, "not UTF-8 text (byte 0xff at offset 0)"), (deep, "nest")):
        result = _vigil("validate", str(path), home=tmp_path / "home")
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: suite {path}: ") and message in lines[0], result.stderr
    verbose = _vigil("--verbose", "validate", str(noise), home=tmp_path / "home")
    assert verbose.returncode == 2 and "Traceback" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1].startswith("error: suite ")


@pytest.mark.parametrize("window", ["1ME", "1W"])
def test_a_calendar_drift_window_never_escapes_as_a_traceback(window: str, cancer_suite: Path, vigil_home: Path) -> None:
    """``drift.window: 1ME`` / ``1W`` used to crash with exit 1 and a traceback; now it works (0) or is one line (2)."""
    import yaml

    from cli.main import app

    doc = yaml.safe_load(cancer_suite.read_text())
    doc["drift"].update(window=window, predictions=False, target=False, html=False)
    doc.pop("upstream", None)
    cancer_suite.write_text(yaml.safe_dump({**doc, "perturbations": []}, sort_keys=False))
    result = CliRunner().invoke(app, ["drift", "--suite", str(cancer_suite), "--since", "2026-03-01"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
