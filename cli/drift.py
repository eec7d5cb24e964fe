"""`vigil drift`: data drift per time window of a suite's timestamped datasets (registered by :func:`register`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``drift`` command to ``app``."""
    app.command(name="drift")(drift)


def drift(
    suite: Annotated[str, typer.Option(help="Path to the suite YAML file (it needs a drift: section).")],
    since: Annotated[datetime | None, typer.Option(help="Only windows starting at or after this date (UTC).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only this timestamped dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")] = False,
) -> None:
    """Compare each window of the suite's timestamped data with its reference and store one run per window.

    Re-running the same windows replaces their runs. See the curve with
    `vigil history --suite NAME --metric drift_share --dataset DATASET`.
    """
    import pandas as pd

    from cli.main import emit_json, fail
    from cli.render import frame_table, out
    from pipeline.drift_windows import watch_windows
    from suite.errors import VigilError
    from suite.load import load_suite
    from suite.settings import load_settings

    try:
        outcomes = watch_windows(suite, load_settings(), since=since, dataset=dataset)
    except VigilError as exc:
        fail(str(exc))
    rows = [o.model_dump(mode="json") for o in outcomes]
    if as_json:
        emit_json(rows)
        return
    frame = pd.DataFrame([{
        "drift": "DRIFT" if o.dataset_drifted else "ok", "dataset": o.dataset, "window": f"{o.window_start:%Y-%m-%d %H:%M}", "rows": o.rows, "labels": "yes" if o.labelled else "no",
        "drifted share": round(o.share_drifted, 3),
    } for o in outcomes], columns=["drift", "dataset", "window", "rows", "labels", "drifted share"])
    out.print(frame_table(frame, title="Data drift per window vs the reference", styles={"DRIFT": "red", "ok": "green"}))
    if outcomes:
        out.print(f"[dim]{len(outcomes)} window runs stored; curve: vigil history --suite {load_suite(suite).name} "
                  f"--metric drift_share --model data --dataset {outcomes[0].dataset}[/]")
