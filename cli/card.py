"""`vigil card`: a model card in the Hugging Face format, written from stored runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import fail
from suite.errors import VigilError

if TYPE_CHECKING:
    from suite.spec import SuiteSpec


def resolve_suite(value: str) -> tuple[str, SuiteSpec | None]:
    """``--suite`` as (stored name, parsed suite): a suite file, or the name of a suite with stored runs.

    For a name, the suite is parsed from the file its latest run recorded when that file
    is still there (for slice definitions and dataset loaders); the card says when it is not.
    """
    from storage.store import ResultStore
    from suite.load import load_suite
    from suite.settings import load_settings

    if Path(value).suffix in (".yaml", ".yml") or "/" in value:
        if not Path(value).is_file():
            raise VigilError(f"--suite: expected a suite YAML file or a suite name, got {value!r}: no such file")
        spec = load_suite(value)
        return spec.name, spec
    latest = ResultStore(load_settings()).list_runs(suite=value, limit=1)
    if not latest:
        known = sorted({r.suite for r in ResultStore(load_settings()).list_runs(limit=1000)})
        raise VigilError(f"--suite: expected a suite YAML file or the name of a suite with stored runs, got {value!r} "
                         f"(stored suites: {known}; see `vigil runs`)")
    path = (latest[0].provenance.get("suite") or {}).get("path")
    try:
        return value, (load_suite(path) if path and Path(path).is_file() else None)
    except VigilError:
        return value, None  # the file changed since: the card is built from what is stored


def card(
    model: Annotated[str, typer.Argument(help="The model's name in the suite.")],
    suite: Annotated[str, typer.Option(help="A suite: its YAML file, or the name of a suite with stored runs.")],
    run: Annotated[str | None, typer.Option("--run", help="The run to read metrics from (default: the latest completed run that evaluated MODEL).")] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Write the card here (default: stdout).")] = None,
) -> None:
    """Write MODEL's card (Hugging Face format) from stored runs: details, data, metrics with CIs, measured limitations, release checklist."""
    from pipeline.evaluate.card import build_model_card
    from reports.card import card_markdown
    from suite.settings import load_settings

    try:
        name, spec = resolve_suite(suite)
        text = card_markdown(build_model_card(load_settings(), suite=name, model=model, run_id=run, spec=spec))
    except VigilError as exc:
        fail(str(exc))
    if out is None:
        typer.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    from cli.render import err

    err.print(f"card of {model} written to {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``vigil card`` to ``app``."""
    app.command()(card)
