"""`vigil reproduce` and `vigil verify`: prove a stored run is what it claims (registered by :func:`register`).

Both exit 0 when the run holds (identical / intact), 1 when it does not
(metrics or predictions moved / a file altered, missing or extra), 2 when it
cannot be checked (an unknown run, a changed or missing input, no manifest).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.boundary import set_verbose
from cli.common import EXIT_OK, fail, quiet_prefect
from cli.show import committed_run
from suite.errors import VigilError

if TYPE_CHECKING:
    from suite.settings import Settings

EXIT_DIFFERENT = 1


def register(app: typer.Typer) -> None:
    """Add the ``reproduce`` and ``verify`` commands to ``app``."""
    app.command(name="reproduce")(reproduce)
    app.command(name="verify")(verify)


@contextmanager
def scratch_home() -> Iterator[Settings]:
    """A throwaway ``VIGIL_HOME`` with its own SQLite index and prediction cache, for this process while inside.

    The real home, index and cache are never written: the reproduction is not a run of the store.
    """
    from suite.settings import load_settings

    folder = Path(tempfile.mkdtemp(prefix="vigil-reproduce-"))
    saved = {key: os.environ.get(key) for key in ("VIGIL_HOME", "VIGIL_INDEX_URL")}
    os.environ["VIGIL_HOME"], os.environ["VIGIL_INDEX_URL"] = str(folder), f"sqlite:///{folder / 'index.db'}"
    try:
        yield load_settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(folder, ignore_errors=True)


def reproduce(
    run_id: Annotated[str, typer.Argument(help="The run to reproduce.")],
    suite: Annotated[str | None, typer.Option(help="Run this suite file instead of the suite text the run stored.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs, and on an error its traceback.")] = False,
) -> None:
    """Run a stored run again from what it stored and compare: exit 0 identical, 1 different, 2 cannot reproduce.

    The stored suite text is read against the folder it was first read from; every model
    and dataset must still have the sha256 the run recorded (else exit 2, naming it). The
    run is recomputed with the same seeds in a scratch home (no prediction cache; nothing
    is added to the index), and its metrics (value, CI, n) and prediction hashes are
    compared bit for bit with the stored ones. Differences in the environment (package
    versions, Python, machine) are printed beside them.
    """
    quiet_prefect(verbose)
    set_verbose(verbose)
    from cli.render import RichProgress, err, out
    from pipeline.evaluate.prepare import prepare_run
    from pipeline.progress import reporting
    from pipeline.reproduce import changed_inputs, changed_predictions, environment_changes, moved_metrics, stored_suite
    from storage.store import ResultStore
    from suite.settings import load_settings

    settings = load_settings()
    store = ResultStore(settings)
    record = committed_run(store, run_id)
    stored = store.run_results(run_id)
    try:
        text, origin = stored_suite(record, settings) if suite is None else (None, Path(suite))
        with scratch_home() as scratch:
            plan = prepare_run(origin, suite_text=text, trigger="reproduce")
            problems = changed_inputs(plan, record)
            if problems:
                fail(f"run {run_id!r}: cannot reproduce: {'; '.join(problems)}")
            from flows.evaluate import evaluate_suite
            from flows.server import start_ephemeral_server

            if not verbose:
                from flows.progress import mute_console_logs

                mute_console_logs()
            err.print(f"[dim]reproducing {run_id} from {'its stored suite' if suite is None else suite} …[/]", highlight=False, soft_wrap=True)
            start_ephemeral_server()
            with RichProgress() as progress, reporting(progress):
                evaluate_suite(suite_path=str(origin), run_id=plan.run_id, trigger="reproduce", plan=plan)
            again_store = ResultStore(scratch)
            again, again_record = again_store.run_results(plan.run_id), again_store.get_run(plan.run_id)
            again_store.close()
    except VigilError as exc:
        fail(str(exc))
    if again_record is None:
        fail(f"run {run_id!r}: the reproduction committed no run")
    moved = moved_metrics(stored, again)
    predictions = changed_predictions(record.provenance.get("prediction_sha256") or {}, again_record.provenance.get("prediction_sha256") or {})
    for line in environment_changes(record.provenance, again_record.provenance):
        out.print(f"environment: {line}", highlight=False, soft_wrap=True)
    if not moved and not predictions:
        hashed = "" if "prediction_sha256" in record.provenance else " (the run stored no prediction hashes)"
        out.print(f"[green]identical[/]: run {run_id}: {len(stored)} metric rows and "
                  f"{len(again_record.provenance.get('prediction_sha256') or {})} prediction sets reproduced bit for bit{hashed}",
                  highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    out.print(f"[red]different[/]: run {run_id}: {len(moved)} metric rows moved, {len(predictions)} prediction sets differ",
              highlight=False, soft_wrap=True)
    for line in [*moved, *predictions]:
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_DIFFERENT)


def verify(run_id: Annotated[str, typer.Argument(help="The run to verify.")]) -> None:
    """Re-hash every file of a run against the manifest its commit wrote: exit 0 intact, 1 altered or missing, 2 cannot verify.

    The manifest (``runs/<id>/manifest.json``) lists the sha256 of the results Parquet
    and of every file in the run folder; its own sha256 is in the index, so it cannot
    be rewritten unnoticed. Each altered, missing or extra file is named. Runs
    committed before manifests existed cannot be verified (exit 2).
    """
    from cli.render import out
    from storage.manifest import MANIFEST_KEY, verify_manifest
    from storage.store import ResultStore
    from suite.settings import load_settings

    settings = load_settings()
    store = ResultStore(settings)
    record = store.get_run(run_id)
    if record is None:
        fail(f"run {run_id!r} not found (see `vigil runs`)")
    recorded = record.provenance.get(MANIFEST_KEY)
    if recorded is None:
        fail(f"run {run_id!r}: no manifest: committed before manifests")
    problems = verify_manifest(settings.home, settings.run_dir(run_id), store.results_path(record), recorded)
    if not problems:
        out.print(f"[green]intact[/]: run {run_id}: every file matches its manifest ({recorded[:12]}…)", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_OK)
    out.print(f"[red]altered[/]: run {run_id}: {len(problems)} {'files differ' if len(problems) > 1 else 'file differs'} from the manifest",
              highlight=False, soft_wrap=True)
    for line in problems:
        out.print(f"  {line}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_DIFFERENT)
