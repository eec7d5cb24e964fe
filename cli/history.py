"""`vigil history`: one metric over a suite's runs (registered by :func:`register`)."""

from __future__ import annotations

import difflib
import json
from typing import Annotated, Any

import typer

from cli.common import SUITE_HELP, JsonOpt, emit_json, suite_name


def register(app: typer.Typer) -> None:
    """Add the ``history`` command to ``app``."""
    app.command()(history)


def history(
    suite: Annotated[str, typer.Option(help=SUITE_HELP)],
    metric: Annotated[str, typer.Option(help="Metric name, e.g. accuracy.")],
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    slice_: Annotated[str, typer.Option("--slice", help="Slice, e.g. all or label=3.")] = "all",
    variant: Annotated[str, typer.Option(help="Variant: clean or perturbation:severity.")] = "clean",
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    changes: Annotated[bool, typer.Option("--changes", help="Also locate change points (segments) and show open incidents; --json then gives {points, series}.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A metric over time: one point per committed run, with CIs and a sparkline per model (--changes: change points, incidents)."""
    from cli.render import err, frame_table, out, print_changes, sparkline
    from storage.store import ResultStore
    from suite.settings import load_settings

    suite = suite_name(suite)
    store = ResultStore(load_settings())
    frame = store.history(suite=suite, metric=metric, model=model, slice=slice_, variant=variant, dataset=dataset)
    found = None
    if changes:
        from pipeline.triggers.metric_history import history_changes

        found = history_changes(store, suite, frame)
    why = None
    if frame.empty:
        why = why_no_history(store, suite, {"metric": metric, "model": model, "slice": slice_, "variant": variant, "dataset": dataset})
    if as_json:
        if why:
            err.print(f"[yellow]note:[/] {why}", highlight=False, soft_wrap=True)
        points = json.loads(frame.to_json(orient="records", date_format="iso"))
        emit_json(points if found is None else {"points": points, "series": found})
        return
    if why:
        out.print(f"no history for suite {suite!r}, metric {metric!r}, slice {slice_!r}, variant {variant!r}: {why}",
                  highlight=False, soft_wrap=True)
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


def why_no_history(store: Any, suite: str, asked: dict[str, str | None]) -> str:
    """Which of the asked names the suite's latest run does not have, with what it has and the nearest name."""
    runs = store.list_runs(suite=suite, limit=1)
    if not runs:
        suites = sorted({r.suite for r in store.list_runs(limit=10_000)})
        return f"no runs of suite {suite!r}{_near(suite, suites)}; suites with runs: {', '.join(suites) or 'none'}"
    results = store.run_results(runs[0].run_id)
    for field, value in asked.items():
        known = sorted(map(str, results[field].dropna().unique())) if field in results.columns else []
        if value is not None and known and value not in known:
            return (f"unknown {field} {value!r} in suite {suite!r}{_near(value, known)}; its latest run "
                    f"({runs[0].run_id}) has: {', '.join(known[:30])}{' …' if len(known) > 30 else ''}")
    return f"the runs of suite {suite!r} have no point matching all of: " + ", ".join(f"{k} {v!r}" for k, v in asked.items() if v)


def _near(value: str, known: list[str]) -> str:
    near = difflib.get_close_matches(value, known, n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""
