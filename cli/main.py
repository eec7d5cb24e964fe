"""The ``vigil`` command line: run suites and read their results.

Exit codes: 0 ok, 1 a gate failed, 2 bad input or an error (one line on
stderr; ``vigil --verbose …`` adds the traceback), 130 interrupted: see
:mod:`cli.boundary`. Every listing command takes ``--json`` (one JSON document
on stdout, nothing else).
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import TYPE_CHECKING, Annotated

import typer

from cli.boundary import VigilGroup, set_verbose
from cli.boundary import report as report_error
from cli.common import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, JsonOpt, emit_json, fail, quiet_prefect, run_id_option, suite_name
from cli.show import print_run, show_document
from cli.startup import StartupClock, process_age
from cli.forward import forward
from cli.leave import leave
from suite.errors import VigilError

if TYPE_CHECKING:
    from suite.spec import SuiteSpec

app = typer.Typer(
    name="vigil",
    help="Continuous evaluation of ML models: run suites on Ray, gate on CIs, keep every result with its provenance.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=VigilGroup,
)


def _print_version(asked: bool) -> None:
    """``--version``: print the installed package's version and exit."""
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"vigil {version('vigil')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            typer.echo("vigil (not installed: no package metadata)")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="On an error, print its traceback too (any command).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print Vigil's version and exit.")] = False,
) -> None:
    set_verbose(verbose, reset=True)


@app.command()
def run(
    suite: Annotated[str, typer.Argument(help="Path to the suite YAML file.")],
    run_id: Annotated[str | None, typer.Option(help="Run id (re-using one replaces that run's results; one process per id at a time).")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address host:port (default: $VIGIL_RAY_ADDRESS, else a local Ray).")] = None,
    trigger: Annotated[str, typer.Option(help="What started this run (shown in the dashboard).")] = "manual",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs and the start-up timings, and on an error its traceback.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a suite end to end (Prefect flow, Ray workers) and record the run.

    While `vigil serve` runs with the same VIGIL_HOME (and the same index, Prefect API and Ray, where set),
    the run is handed to its warm process on serve's Ray; VIGIL_NO_SERVE=1 runs it in this process.
    """
    clock = StartupClock.since_process_start(_IMPORTED_AT_AGE)
    quiet_prefect(verbose)
    set_verbose(verbose)
    run_id = run_id_option(run_id)
    from flows.server import start_temporary_server, unwatched_flows

    server = start_temporary_server()  # first (bad input kills it unused): Prefect's server boots beside every other step, waited for before the flow
    with clock.phase("imports"):
        from cli.render import err, progress_reporter
        from pipeline.commit import claim_run
        from pipeline.evaluate.infer import start_workers
        from pipeline.evaluate.prepare import prepare_run
        from pipeline.progress import reporting
        from suite.settings import load_settings
    try:
        with clock.phase("prepare"):
            plan = prepare_run(suite, run_id=run_id, trigger=trigger)  # fail fast on bad input, before Ray starts and the flow begins
        _warn_unpinned(plan.suite)
        settings = load_settings(ray_address)
        with claim_run(plan.run_id, settings):  # ... and on a run id already running (the flow re-enters the lock)
            with clock.phase("imports"):
                from flows.evaluate import evaluate_suite
                from flows.progress import mute_console_logs

            if not verbose:
                mute_console_logs()
            err.print(f"[dim]running {suite} …[/]")
            with clock.phase("ray"):
                try:
                    start_workers(plan, settings)  # from the main thread, so a local Ray dies with this process
                except VigilError:
                    raise  # e.g. a Ray address where no cluster answers: the task would only find the same
                except Exception as exc:  # noqa: BLE001 - e.g. Ray's 30 s raylet deadline on an overloaded machine, booting beside the server
                    if verbose:
                        err.print(f"[dim]Ray did not start beside Prefect's server ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                                  "the inference task starts it again[/]", highlight=False, soft_wrap=True)
            if server is not None:
                with clock.phase("prefect"):
                    server.use()
            if verbose:
                err.print(f"[dim]{clock.line(clock.elapsed(), server.ready_after_s if server is not None else None)}[/]", highlight=False, soft_wrap=True)
            with progress_reporter() as progress, reporting(progress), unwatched_flows() if server is not None else nullcontext():
                outcome = evaluate_suite(suite_path=suite, run_id=plan.run_id, ray_address=ray_address, trigger=trigger, plan=plan)
    except VigilError as exc:
        if server is not None:
            server.discard()  # bad input: the server it never used stops booting now
        fail(str(exc))
    if as_json:
        emit_json(show_document(outcome["run_id"]))
    else:
        print_run(outcome["run_id"])
    raise typer.Exit(EXIT_GATE_FAILED if outcome["verdict"] == "fail" else EXIT_OK)


@app.command()
def validate(suite: Annotated[str, typer.Argument(help="Path to the suite YAML file.")]) -> None:
    """Check a suite, its pins (checkpoints, module files, data) and its data, and load every model as a run would.

    Loading imports the models' module files: it runs the suite's code in this process.
    """
    from cli.render import out, plural
    from pipeline.evaluate.load_check import load_models
    from pipeline.evaluate.prepare import prepare_run

    try:
        plan = prepare_run(suite)
        spec = plan.suite
        loaded = load_models(spec, plan)
    except VigilError as exc:
        fail(str(exc))
    _warn_unpinned(spec)
    formats = ", ".join(sorted({m.format for m in loaded})) or "none"
    uses = ", ".join(f"{sum(d.use == use for d in spec.datasets)} {use}" for use in dict.fromkeys(d.use for d in spec.datasets))
    out.print(f"[green]ok[/]: suite {spec.name} ({plural(len(loaded), 'model')} loaded: {formats}; "
              f"{plural(len(spec.datasets), 'dataset')}: {uses}; {plural(len(plan.work_items()), 'inference task')})",
              highlight=False, soft_wrap=True)


def _warn_unpinned(spec: SuiteSpec) -> None:
    """One stderr line when the suite's code runs without sha256 pins (an error with require_code_pins: true)."""
    from cli.render import err
    from pipeline.evaluate.fingerprint import unpinned_code, unpinned_warning

    warning = unpinned_warning(spec, unpinned_code(spec))
    if warning is not None:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command()
def runs(
    suite: Annotated[str | None, typer.Option(help="Only runs of this suite (its YAML file, or its name).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs: id, suite, started, status, verdict."""
    import pandas as pd

    from cli.render import frame_table, out
    from storage.store import ResultStore
    from suite.settings import load_settings

    store = ResultStore(load_settings())
    records = store.list_runs(suite=suite_name(suite) if suite else None, limit=limit)
    broken = store.broken_runs(r.run_id for r in records)  # listed in the index, files gone: never shown as completed
    rows = [{"run_id": r.run_id, "suite": r.suite, "started": r.started_at.isoformat(timespec="seconds"),
             "status": "broken" if r.run_id in broken else r.status, "verdict": r.verdict, "trigger": r.trigger} for r in records]
    if as_json:
        emit_json(rows)
        return
    frame = pd.DataFrame(rows, columns=["run_id", "suite", "started", "status", "verdict", "trigger"])
    frame["started"] = frame["started"].str.replace("T", " ").str[:16]
    out.print(frame_table(frame, title="Vigil runs", droppable=("trigger", "suite")))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A run id from `vigil runs`.")],
    every_row: Annotated[bool, typer.Option("--all", help="Also list every row: each model × dataset × variant × slice × metric.")] = False,
    metric: Annotated[list[str] | None, typer.Option(metavar="NAME", help="List the rows of this metric (repeatable).")] = None,
    slice_: Annotated[list[str] | None, typer.Option("--slice", metavar="NAME", help="List the rows of this slice, e.g. all or label=3 (repeatable).")] = None,
    dataset: Annotated[list[str] | None, typer.Option(metavar="NAME", help="List the rows of this dataset (repeatable).")] = None,
    model: Annotated[list[str] | None, typer.Option(metavar="NAME", help="List the rows of this model (repeatable).")] = None,
    variant: Annotated[list[str] | None, typer.Option(metavar="NAME", help="List the rows of this variant, e.g. clean or contrast:2 (repeatable).")] = None,
    slices: Annotated[bool, typer.Option("--slices/--no-slices", help="Include per-slice rows (in --all, filters and --json).")] = True,
    as_json: JsonOpt = False,
) -> None:
    """A run's summary: verdict, gates, headline metrics with 95% CIs, worst slices, robustness, drift.

    --all or a filter (--metric, --slice, --dataset, --model, --variant) lists the rows themselves;
    --json gives every row (filtered likewise) and the provenance.
    """
    from cli.show import RowFilter

    run_id_option(run_id, "RUN_ID")
    rows = RowFilter(*(tuple(v or ()) for v in (metric, slice_, dataset, model, variant)))
    if as_json:
        emit_json(show_document(run_id, slices=slices, rows=rows))
        return
    print_run(run_id, rows=rows, every_row=every_row, slices=slices)


@app.command()
def report(
    run_id: Annotated[str, typer.Argument(help="A run id from `vigil runs`.")],
    out: Annotated[str | None, typer.Option("--out", "-o", help="Write the HTML here (default: the run's folder).")] = None,
) -> None:
    """Write one self-contained HTML report: verdict, gates, metrics vs baseline, slices, robustness, history, provenance."""
    from pathlib import Path

    from cli.render import out as console
    from pipeline.evaluate.report import rerender_report
    from suite.settings import load_settings

    run_id_option(run_id, "RUN_ID")
    try:
        path = rerender_report(run_id, load_settings(), Path(out) if out else None)
    except VigilError as exc:
        fail(str(exc))
    console.print(f"report written to {path}")


from cli import card as _card_commands  # noqa: E402
from cli import compare as _compare_commands  # noqa: E402
from cli import drift as _drift_commands  # noqa: E402
from cli import history as _history_commands  # noqa: E402
from cli import ops as _ops_commands  # noqa: E402
from cli import reproduce as _reproduce_commands  # noqa: E402
from cli import shadow as _shadow_commands  # noqa: E402

for _module in (_history_commands, _compare_commands, _shadow_commands, _drift_commands, _ops_commands, _reproduce_commands, _card_commands):
    _module.register(app)


_IMPORTED_AT_AGE = process_age()  # from the interpreter's start to here: `vigil run --verbose` counts it as imports


def main(forwarding: bool = True) -> None:
    """Console-script entry point: run the app inside the error boundary (see :mod:`cli.boundary`).

    ``vigil run`` is first offered to a running ``vigil serve`` whose settings agree
    (:func:`cli.forward.forward`): its warm spare runs the command on this terminal
    (calling this with ``forwarding=False``).

    The console script's process then ends through :func:`cli.leave.leave` (exit
    handlers run, the interpreter's teardown skipped); a warm spare, which calls
    this with ``forwarding=False``, gets the ``SystemExit`` and ends itself.
    """
    if not forwarding:
        _run_app()
        return
    try:
        forwarded = forward(sys.argv[1:])
        if forwarded is not None:
            sys.exit(forwarded)
        _run_app()
    except SystemExit as exc:
        leave(exc.code)


def _run_app() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - anything the group's boundary did not see (e.g. at start-up)
        report_error(exc, verbose=bool({"--verbose", "-v"} & set(sys.argv[1:])))
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
