"""The ``vigil`` command line: run suites and read their results.

Exit codes: 0 ok, 1 a gate failed, 2 bad input or an error (one line on
stderr; ``vigil --verbose …`` adds the traceback), 130 interrupted: see
:mod:`cli.boundary`. Every listing command takes ``--json`` (one JSON document
on stdout, nothing else).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from cli.boundary import VigilGroup, set_verbose
from cli.boundary import report as report_error
from cli.common import EXIT_ERROR, EXIT_GATE_FAILED, EXIT_OK, JsonOpt, emit_json, fail, quiet_prefect, run_id_option
from cli.show import print_run, show_document
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

@app.callback()
def _options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="On an error, print its traceback too (any command).")] = False,
) -> None:
    set_verbose(verbose, reset=True)


@app.command()
def run(
    suite: Annotated[str, typer.Argument(help="Path to the suite YAML file.")],
    run_id: Annotated[str | None, typer.Option(help="Run id (re-using one replaces that run's results; one process per id at a time).")] = None,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address host:port (default: $VIGIL_RAY_ADDRESS, else a local Ray).")] = None,
    trigger: Annotated[str, typer.Option(help="What started this run (shown in the dashboard).")] = "manual",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs, and on an error its traceback.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a suite end to end (Prefect flow, Ray workers) and record the run."""
    quiet_prefect(verbose)
    set_verbose(verbose)
    run_id = run_id_option(run_id)
    from cli.render import RichProgress, err
    from pipeline.commit import claim_run
    from pipeline.evaluate.prepare import prepare_run
    from pipeline.progress import reporting
    from suite.settings import load_settings

    try:
        plan = prepare_run(suite, run_id=run_id, trigger=trigger)  # fail fast on bad input, before Prefect and Ray start
        _warn_unpinned(plan.suite)
        with claim_run(plan.run_id, load_settings(ray_address)):  # ... and on a run id already running (the flow re-enters the lock)
            from flows.evaluate import evaluate_suite
            from flows.server import start_ephemeral_server

            if not verbose:
                from flows.progress import mute_console_logs

                mute_console_logs()
            err.print(f"[dim]running {suite} …[/]")
            start_ephemeral_server()  # from the main thread, so the server dies with this process even on kill -9
            with RichProgress() as progress, reporting(progress):
                outcome = evaluate_suite(suite_path=suite, run_id=plan.run_id, ray_address=ray_address, trigger=trigger, plan=plan)
    except VigilError as exc:
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
    from cli.render import out
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
    out.print(f"[green]ok[/]: suite {spec.name} ({len(loaded)} models loaded: {formats}; {len(plan.datasets)} datasets; "
              f"{len(plan.work_items())} inference tasks)", highlight=False, soft_wrap=True)


def _warn_unpinned(spec: SuiteSpec) -> None:
    """One stderr line when the suite's code runs without sha256 pins (an error with require_code_pins: true)."""
    from cli.render import err
    from pipeline.evaluate.fingerprint import unpinned_code, unpinned_warning

    warning = unpinned_warning(spec, unpinned_code(spec))
    if warning is not None:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)


@app.command()
def runs(
    suite: Annotated[str | None, typer.Option(help="Only runs of this suite.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs: id, suite, started, status, verdict."""
    import pandas as pd

    from cli.render import frame_table, out
    from storage.store import ResultStore
    from suite.settings import load_settings

    store = ResultStore(load_settings())
    records = store.list_runs(suite=suite, limit=limit)
    broken = store.broken_runs(r.run_id for r in records)  # listed in the index, files gone: never shown as completed
    rows = [{"run_id": r.run_id, "suite": r.suite, "started": r.started_at.isoformat(timespec="seconds"),
             "status": "broken" if r.run_id in broken else r.status, "verdict": r.verdict, "trigger": r.trigger} for r in records]
    if as_json:
        emit_json(rows)
        return
    frame = pd.DataFrame(rows, columns=["run_id", "suite", "started", "status", "verdict", "trigger"])
    out.print(frame_table(frame, title="Vigil runs"))


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="A run id from `vigil runs`.")],
    slices: Annotated[bool, typer.Option("--slices/--no-slices", help="Include per-slice rows.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Metrics per model × variant × slice with 95% CIs, the gates, and (with --json) provenance."""
    run_id_option(run_id, "RUN_ID")
    if as_json:
        emit_json(show_document(run_id, slices=slices))
        return
    print_run(run_id, slices=slices)


@app.command()
def history(
    suite: Annotated[str, typer.Option(help="Suite name.")],
    metric: Annotated[str, typer.Option(help="Metric name, e.g. accuracy.")],
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    slice_: Annotated[str, typer.Option("--slice", help="Slice, e.g. all or label=3.")] = "all",
    variant: Annotated[str, typer.Option(help="Variant: clean or perturbation:severity.")] = "clean",
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    changes: Annotated[bool, typer.Option("--changes", help="Also locate change points (segments) and show open incidents; --json then gives {points, series}.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A metric over time: one point per committed run, with CIs and a sparkline per model (--changes: change points, incidents)."""
    from cli.render import frame_table, out, print_changes, sparkline
    from storage.store import ResultStore
    from suite.settings import load_settings

    store = ResultStore(load_settings())
    frame = store.history(suite=suite, metric=metric, model=model, slice=slice_, variant=variant, dataset=dataset)
    found = None
    if changes:
        from pipeline.triggers.metric_history import history_changes

        found = history_changes(store, suite, frame)
    if as_json:
        points = json.loads(frame.to_json(orient="records", date_format="iso"))
        emit_json(points if found is None else {"points": points, "series": found})
        return
    if frame.empty:
        out.print(f"no history for suite {suite!r}, metric {metric!r}, slice {slice_!r}, variant {variant!r}")
        return
    cols = [c for c in ["started_at", "run_id", "model", "value", "ci_low", "ci_high", "n"] if c in frame.columns]
    if "dataset" in frame.columns and frame["dataset"].nunique() > 1:
        cols.insert(2, "dataset")  # windows of one run (e.g. shadow@hour) are told apart by their dataset name
    shown = frame.assign(started_at=frame["started_at"].dt.strftime("%Y-%m-%d %H:%M"))
    out.print(frame_table(shown[cols], title=f"{suite} · {metric} · {slice_} · {variant}"))
    for name, group in frame.groupby("model"):
        out.print(f"  {name:<16} {sparkline(group['value'].tolist())}  last {group['value'].iloc[-1]:.4f}")
    if found is not None:
        print_changes(found)


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


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run.")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    all_rows: Annotated[bool, typer.Option("--all", help="Show unchanged rows too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print what changed between two runs: each metric's value in both, the difference, and whether the CIs overlap."""
    from cli.render import frame_table, out
    from reports import compare_runs
    from storage.store import ResultStore
    from suite.settings import load_settings

    run_id_option(run_a, "RUN_A"), run_id_option(run_b, "RUN_B")
    store = ResultStore(load_settings())
    for run_id in (run_a, run_b):
        if store.get_run(run_id) is None:
            fail(f"run {run_id!r} not found (see `vigil runs`)")
    diff = compare_runs(store.run_results(run_a), store.run_results(run_b))
    if not all_rows and "diff" in diff.columns:
        changed = (diff["diff"].abs() > 1e-12) | (diff["presence"] != "both") | (diff["value_a"].isna() != diff["value_b"].isna())
        diff = diff[changed]
    if as_json:
        emit_json(json.loads(diff.to_json(orient="records")))
        return
    cols = ["dataset", "model", "variant", "slice", "metric", "value_a", "value_b", "diff", "ci_overlap", "presence"]
    out.print(frame_table(diff[cols].head(200).reset_index(drop=True), title=f"{run_a} → {run_b} (b − a; largest changes first)"))


from cli import card as _card_commands  # noqa: E402
from cli import drift as _drift_commands  # noqa: E402
from cli import ops as _ops_commands  # noqa: E402
from cli import shadow as _shadow_commands  # noqa: E402

for _module in (_shadow_commands, _drift_commands, _ops_commands, _card_commands):
    _module.register(app)


def main() -> None:
    """Console-script entry point: run the app inside the error boundary (see :mod:`cli.boundary`)."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - anything the group's boundary did not see (e.g. at start-up)
        report_error(exc, verbose=bool({"--verbose", "-v"} & set(sys.argv[1:])))
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
