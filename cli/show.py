"""`vigil show`: a run read back from the store, as JSON or as tables."""

from __future__ import annotations

import json
from typing import Any

from cli.common import fail


def committed_run(store: Any, run_id: str) -> Any:
    """The run's record; exits 2 with one line if it is unknown or its files are gone."""
    record = store.get_run(run_id)
    if record is None:
        fail(f"run {run_id!r} not found (see `vigil runs`)")
    missing = store.broken_runs([run_id]).get(run_id)
    if missing is not None:
        fail(f"run {run_id!r} is broken: the index lists it but {missing} is gone; re-run it with --run-id {run_id}")
    return record


def show_document(run_id: str, *, slices: bool = True) -> dict[str, Any]:
    """The run's record and results as one JSON-ready document (``vigil show --json``)."""
    from storage.store import ResultStore
    from suite.settings import load_settings

    store = ResultStore(load_settings())
    record = committed_run(store, run_id)
    results = store.run_results(run_id)
    if not slices:
        results = results[results["slice"] == "all"]
    document = record.model_dump(mode="json")
    document["manifest_sha256"] = record.provenance.get("manifest_sha256")  # None: committed before manifests (`vigil verify`)
    document["results"] = json.loads(results.drop(columns=["created_at"], errors="ignore").to_json(orient="records"))
    return document


def print_run(run_id: str, slices: bool = False) -> None:
    """Print a run: verdict, headline metrics, robustness, upstream, drift, gates and the report's path."""
    from urllib.parse import urlparse

    from cli.render import frame_table, out
    from pipeline.evaluate.summary import headline_pivot
    from storage.store import ResultStore
    from suite.settings import load_settings

    settings = load_settings()
    store = ResultStore(settings)
    record = committed_run(store, run_id)
    results = store.run_results(run_id)
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}.get(record.verdict, "white")
    out.print(f"\n[bold]run[/] {record.run_id}  [bold]suite[/] {record.suite}  [bold]verdict[/] [{colour}]{record.verdict.upper()}[/]")
    if (results["variant"] == "clean").any():
        out.print(frame_table(headline_pivot(results), title="Clean data, all rows: value [95% CI]"))
    elif not results.empty:  # shadow replays and drift watches have no clean variant
        whole = results[(results["slice"] == "all") & ~results["variant"].str.contains("@")]
        cols = ["model", "variant", "metric", "value", "ci_low", "ci_high", "n"]
        out.print(frame_table(whole[cols].reset_index(drop=True), title="All rows: value [95% CI]"))
    if slices:
        table = results[(results["slice"] != "all") | (results["variant"] != "clean")]
        cols = ["model", "dataset", "variant", "slice", "metric", "value", "ci_low", "ci_high", "n"]
        if not table.empty:
            out.print(frame_table(table[cols].reset_index(drop=True), title="Per variant and slice"))
    folder = settings.run_dir(run_id)
    _print_frame(folder / "robustness.parquet", "Robustness (primary metric)", ["model", "dataset", "perturbation", "clean", "worst", "breaking_severity", "relative_robustness"])
    _print_upstream(folder / "upstream.parquet")
    _print_drift(folder / "drift.parquet")
    _print_gates(folder / "gates.json")
    report = next((a for a in record.artifacts if a.kind == "report"), None)
    if report is not None:
        out.print(f"report: {urlparse(report.uri).path}")


def _print_frame(path: Any, title: str, columns: list[str]) -> None:
    from cli.render import frame_table, out
    from storage.frames import read_frame

    if path.is_file():
        frame = read_frame(path)
        if "breaking_severity" in frame.columns:
            frame["breaking_severity"] = [("never" if v != v else str(int(v))) for v in frame["breaking_severity"]]
        out.print(frame_table(frame[[c for c in columns if c in frame.columns]], title=title))


def _print_upstream(path: Any) -> None:
    import pandas as pd

    from cli.render import frame_table, out
    from storage.frames import read_frame

    if not path.is_file():
        return
    rows = [{"module": r.module, "versions": f"{r.previous_version} → {r.version}", "model": r.model, "dataset": r.dataset,
             "delta": f"{r.delta:+.4f} [{r.ci_low:+.4f}, {r.ci_high:+.4f}]", "p": f"{r.p_value:.3g}"} for r in read_frame(path).itertuples()]
    metric = read_frame(path)["metric"].iloc[0] if rows else ""
    out.print(frame_table(pd.DataFrame(rows), title=f"Upstream modules: change in {metric} attributed to each (current − rolled back, 95% CI)"))


def _print_drift(path: Any) -> None:
    import pandas as pd

    from cli.render import frame_table, out
    from storage.frames import read_frame

    if not path.is_file():
        return
    table = read_frame(path)
    rows = []
    for (dataset, kind, model), group in table.groupby(["dataset", "kind", "model"], dropna=False, sort=True):
        drifted = sorted(group.loc[group["drifted"].astype(bool), "column"].astype(str))
        rows.append({"dataset": dataset, "kind": kind, "model": model if isinstance(model, str) else "", "drifted": f"{len(drifted)}/{len(group)}",
                     "columns": ", ".join(drifted[:6]) + (" …" if len(drifted) > 6 else "")})
    out.print(frame_table(pd.DataFrame(rows), title="Drift vs the reference"))


def _print_gates(path: Any) -> None:
    import pandas as pd

    from cli.render import frame_table, out

    if not path.is_file():
        return
    outcomes = json.loads(path.read_text()).get("outcomes", [])
    if outcomes:
        frame = pd.DataFrame(outcomes)
        keep = [c for c in ["status", "gate", "model", "slice", "reason"] if c in frame.columns]
        out.print(frame_table(frame[keep], title="Gates", styles={"fail": "red", "pass": "green", "inconclusive": "yellow"}))
