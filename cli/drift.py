"""`vigil drift`: drift per window of a suite's streams, with the pattern each window shows (registered by :func:`register`)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.table import Table

    from pipeline.drift_watch.signals import ModelSignals, RateShift, Shift
    from pipeline.drift_watch.windows import WindowOutcome


def register(app: typer.Typer) -> None:
    """Add the ``drift`` command to ``app``."""
    app.command(name="drift")(drift)


def drift(
    suite: Annotated[str, typer.Option(help="A suite with a drift: section: its YAML file, or the name of a suite with stored runs.")],
    since: Annotated[datetime | None, typer.Option(help="Only windows starting at or after this date (UTC).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this stream dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")] = False,
) -> None:
    """Compare each window of the suite's streams with the reference, name its pattern, store one run per window.

    Per window: drifted data columns, label rates, predicted-class rates and accuracy (realised, or
    ~estimated without labels) against the reference, and the pattern (covariate drift, concept drift,
    prediction drift, covariate+concept, none). Re-running the same windows replaces their runs. See the
    curve with `vigil history --suite NAME --metric drift_share --dataset DATASET`.
    """
    from cli.common import emit_json, fail, suite_file
    from cli.render import out, progress_reporter
    from pipeline.drift_watch.windows import watch_windows
    from pipeline.progress import reporting
    from suite.errors import VigilError
    from suite.load import load_suite
    from suite.settings import load_settings

    suite = suite_file(suite)
    try:
        spec = load_suite(suite)
        with progress_reporter() as progress, reporting(progress):
            outcomes = watch_windows(spec, load_settings(), since=since, dataset=dataset)
    except VigilError as exc:
        fail(str(exc))
    if as_json:
        emit_json([o.model_dump(mode="json") for o in outcomes])
        return
    out.print(window_table(outcomes), soft_wrap=False)
    if outcomes:
        out.print("[dim]* moved (p < drift.signal_alpha; accuracy: vs the reference and its estimate); ~ estimated, no labels[/]")
        out.print(f"[dim]{len(outcomes)} window runs stored; curve: vigil history --suite {spec.name} "
                  f"--metric drift_share --model data --dataset {outcomes[0].dataset}[/]")


def window_table(outcomes: list[WindowOutcome]) -> Table:
    """One row per window: pattern, window, rows, drifted data columns, label rate and accuracy against the reference."""
    import pandas as pd
    from rich import box

    from cli.render import frame_table

    several = len({o.dataset for o in outcomes}) > 1
    model = next((m.model for o in outcomes for m in o.signals.models if m.realised or m.estimated), None)
    rows = []
    for o in outcomes:
        s = o.signals
        row = {"pattern": o.pattern, "window": (f"{o.dataset} " if several else "") + o.window, "rows": str(o.rows),
               "data": f"{s.data_drifted_columns}/{s.data_columns}", "label rate": _rate(s.labels)}
        signal = next((m for m in s.models if m.model == model), None)
        row[f"acc {model}" if model else "accuracy"] = _accuracy(signal)
        rows.append(row)
    frame = pd.DataFrame(rows)
    title = "Drift per window vs the reference" + ("" if several or not outcomes else f": {outcomes[0].dataset}")
    table = frame_table(frame, title=title, styles=PATTERN_STYLES)
    table.box, table.pad_edge, table.collapse_padding = box.SIMPLE_HEAD, False, True
    for column in table.columns:
        column.no_wrap = True
    return table


PATTERN_STYLES = {"none": "green", "covariate drift": "red", "concept drift": "magenta", "prediction drift": "yellow",
                  "covariate+concept": "bold red"}


def _short(x: float) -> str:
    return f"{x:.2f}".replace("0.", ".", 1) if 0 <= x < 1 else f"{x:.2f}"


def _rate(shift: RateShift | Shift | None) -> str:
    if shift is None or not hasattr(shift, "rates"):
        return "—"
    i = shift.headline
    rate, low, high = shift.rates[i], shift.low[i], shift.high[i]
    prefix = "" if len(shift.classes) == 2 else f"{shift.classes[i]}: "
    return f"{prefix}{_short(rate)}±{_short((high - low) / 2)} vs {_short(shift.reference[i])}{'*' if shift.moved else ''}"


def _accuracy(signal: ModelSignals | None) -> str:
    metric = None if signal is None else signal.realised or signal.estimated
    if metric is None:
        return "—"
    tilde = "~" if metric.kind == "estimated" else ""
    ref = f" vs {_short(metric.reference)}" if metric.reference is not None else ""
    return f"{tilde}{_short(metric.value)}±{_short((metric.high - metric.low) / 2)}{ref}{'*' if metric.moved else ''}"
