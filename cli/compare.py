"""`vigil compare`: what changed between two runs (registered by :func:`register`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import JsonOpt, emit_json, fail, run_id_option

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from storage.records import RunRecord

KEY = ["dataset", "model", "variant", "slice", "metric"]


def register(app: typer.Typer) -> None:
    """Add the ``compare`` command to ``app``."""
    app.command()(compare)


def compare(
    run_a: Annotated[str, typer.Argument(help="The earlier run.")],
    run_b: Annotated[str, typer.Argument(help="The later run.")],
    all_rows: Annotated[bool, typer.Option("--all", help="Show unchanged rows too.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print what changed between two runs: each metric's value in both, the difference, and whether the CIs overlap.

    Runs of different suites are compared on the rows they share, with a warning naming both suites.
    """
    from cli.render import err, out
    from reports import compare_runs
    from storage.store import ResultStore
    from suite.settings import load_settings

    run_id_option(run_a, "RUN_A"), run_id_option(run_b, "RUN_B")
    store = ResultStore(load_settings())
    records = [store.get_run(run_id) for run_id in (run_a, run_b)]
    for run_id, record in zip((run_a, run_b), records, strict=True):
        if record is None:
            fail(f"run {run_id!r} not found (see `vigil runs`)")
    for line in suite_warnings(run_a, records[0], run_b, records[1]):
        err.print(f"[yellow]warning:[/] {line}", highlight=False, soft_wrap=True)
    full = compare_runs(store.run_results(run_a), store.run_results(run_b))
    diff = full if all_rows else changed_rows(full)
    if as_json:
        emit_json(json.loads(diff.to_json(orient="records")))
        return
    out.print(f"[bold]{run_a}[/] → [bold]{run_b}[/]", highlight=False, soft_wrap=True)
    if diff.empty:
        out.print(f"no changes: all {len(full)} rows have the same value in both runs (--all lists them)" if len(full)
                  else "no changes: neither run has result rows", highlight=False)
        return
    out.print(diff_table(diff, limit=200))


def suite_warnings(run_a: str, a: RunRecord, run_b: str, b: RunRecord) -> list[str]:
    """What the user should know before reading a comparison: runs of two suites, or of one suite whose content changed."""
    if a.suite != b.suite:
        return [f"comparing runs of different suites: {run_a} is suite {a.suite!r}, {run_b} is suite {b.suite!r}; "
                "only the rows both measured are compared"]
    if a.suite_hash != b.suite_hash:
        return [f"suite {a.suite!r} changed between the runs (fingerprint {a.suite_hash[:12]} → {b.suite_hash[:12]})"]
    return []


def changed_rows(diff: pd.DataFrame) -> pd.DataFrame:
    """Rows whose value changed, or that only one run has."""
    if diff.empty:
        return diff
    changed = (diff["diff"].abs() > 1e-12) | (diff["presence"] != "both") | (diff["value_a"].isna() != diff["value_b"].isna())
    return diff[changed]


def diff_table(diff: pd.DataFrame, limit: int) -> Table:
    """The changes as a compact table: key columns with one value for every row move into the caption."""
    import pandas as pd

    from cli.render import fmt, frame_table

    shown = diff.head(limit)
    constant = [c for c in KEY if shown[c].nunique(dropna=False) == 1]
    frame = pd.DataFrame({
        **{c: shown[c].fillna("") for c in KEY if c not in constant},
        "a": shown["value_a"].map(fmt), "b": shown["value_b"].map(fmt),
        "b − a": [("—" if d != d else f"{d:+.4f}") for d in shown["diff"]],
        "CIs overlap": ["yes" if o else ("no" if p == "both" else p.replace("_", " ")) for o, p in zip(shown["ci_overlap"], shown["presence"], strict=True)],
    }).reset_index(drop=True)
    more = f"; {len(diff) - limit} more rows in --json" if len(diff) > limit else ""
    table = frame_table(frame, title="b − a, largest changes first")
    every = " · ".join(f"{c} {shown[c].iloc[0]}" for c in constant)
    table.caption = (f"every row: {every}" if every else "") + more or None
    return table
