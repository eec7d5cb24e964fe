"""What every `vigil` command shares: one-line failures, run-id options, JSON output, quiet Prefect."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any, NoReturn

import typer

from cli.boundary import is_verbose
from suite.errors import VigilError
from suite.ids import check_run_id

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")]
EXIT_OK, EXIT_GATE_FAILED, EXIT_ERROR = 0, 1, 2


def fail(message: str) -> NoReturn:
    """Print a one-line error on stderr and exit 2 (after the traceback of the error being handled, with --verbose)."""
    import traceback

    from rich.markup import escape

    from cli.render import err

    if is_verbose() and sys.exc_info()[1] is not None:
        traceback.print_exc(file=sys.stderr)
    err.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_ERROR)


def run_id_option(value: str | None, where: str = "--run-id") -> str | None:
    """A run id given on the command line, checked (:func:`suite.ids.check_run_id`); exits 2 with one line if bad."""
    if value is None:
        return None
    try:
        return check_run_id(value, where)
    except VigilError as exc:
        fail(str(exc))


def emit_json(document: Any) -> None:
    """Write ``document`` as JSON to stdout."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def quiet_prefect(verbose: bool) -> None:
    """Keep Prefect's logs and server chatter off the console unless ``verbose``."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


SUITE_HELP = "A suite: its YAML file, or the name of a suite with stored runs."


def _is_suite_file(value: str) -> bool:
    from pathlib import Path

    return Path(value).suffix in (".yaml", ".yml") and Path(value).is_file()


def suite_name(value: str) -> str:
    """``--suite`` as the name results are stored under: a suite file's ``name:``, or the value itself."""
    if not _is_suite_file(value):
        return value
    from suite.load import load_suite

    try:
        return load_suite(value).name
    except VigilError as exc:
        fail(str(exc))


def suite_file(value: str) -> str:
    """``--suite`` as a file to load: the path given, or, for a name, the file its latest stored run was made from."""
    from pathlib import Path

    if _is_suite_file(value) or Path(value).is_file():
        return value
    if Path(value).suffix in (".yaml", ".yml") or "/" in value:
        fail(f"--suite: expected a suite YAML file or a suite name, got {value!r}: no such file")
    from storage.store import ResultStore
    from suite.settings import load_settings

    latest = ResultStore(load_settings()).list_runs(suite=value, limit=1)
    if not latest:
        fail(f"--suite: expected a suite YAML file or the name of a suite with stored runs, got {value!r} "
             "(no such file, and no run of that suite; see `vigil runs`)")
    path = (latest[0].provenance.get("suite") or {}).get("path")
    if not path:
        fail(f"--suite {value}: its latest run ({latest[0].run_id}) does not record its suite file; pass the suite's YAML file")
    if not Path(path).is_file():
        fail(f"--suite {value}: its latest run was made from {path}, which is gone; pass the suite's YAML file")
    return str(path)
