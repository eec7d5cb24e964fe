"""`vigil show`: a run read back from the store, as JSON or as tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cli.common import fail

if TYPE_CHECKING:
    import pandas as pd


def committed_run(store: Any, run_id: str) -> Any:
    """The run's record; exits 2 with one line if it is unknown or its files are gone."""
    record = store.get_run(run_id)
    if record is None:
        fail(f"run {run_id!r} not found (see `vigil runs`)")
    missing = store.broken_runs([run_id]).get(run_id)
    if missing is not None:
        fail(f"run {run_id!r} is broken: the index lists it but {missing} is gone; re-run it with --run-id {run_id}")
    return record


@dataclass(frozen=True)
class RowFilter:
    """Which result rows ``vigil show`` lists in full: each field, when set, keeps only rows with one of its values."""

    metric: tuple[str, ...] = ()
    slice: tuple[str, ...] = ()
    dataset: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    variant: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.metric, self.slice, self.dataset, self.model, self.variant))

    def select(self, results: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``results`` this filter keeps."""
        import pandas as pd

        keep = pd.Series(True, index=results.index)
        for column in ("metric", "slice", "dataset", "model", "variant"):
            wanted = getattr(self, column)
            if wanted:
                keep &= results[column].isin(wanted)
        return results[keep]


def show_document(run_id: str, *, slices: bool = True, rows: RowFilter | None = None) -> dict[str, Any]:
    """The run's record and results as one JSON-ready document (``vigil show --json``), optionally filtered."""
    from storage.store import ResultStore
    from suite.settings import load_settings

    store = ResultStore(load_settings())
    record = committed_run(store, run_id)
    results = store.run_results(run_id)
    if not slices:
        results = results[results["slice"] == "all"]
    if rows:
        results = rows.select(results)
    document = record.model_dump(mode="json")
    document["manifest_sha256"] = record.provenance.get("manifest_sha256")  # None: committed before manifests (`vigil verify`)
    document["results"] = json.loads(results.drop(columns=["created_at"], errors="ignore").to_json(orient="records"))
    return document


def print_run(run_id: str, *, rows: RowFilter | None = None, every_row: bool = False, slices: bool = True) -> None:
    """Print a run's summary: verdict, gates, headline metrics, worst slices, robustness, upstream, drift, the report's path.

    ``every_row`` (``--all``) or a non-empty ``rows`` filter adds the matching per-variant and per-slice rows.
    """
    from urllib.parse import urlparse

    from cli.render import frame_table, out, with_units
    from pipeline.evaluate.summary import headline_pivot
    from storage.store import ResultStore
    from suite.settings import load_settings

    settings = load_settings()
    store = ResultStore(settings)
    record = committed_run(store, run_id)
    results = store.run_results(run_id)
    colour = {"pass": "green", "fail": "red", "inconclusive": "yellow"}.get(record.verdict, "white")
    out.print(f"\n[bold]run[/] {record.run_id}  [bold]suite[/] {record.suite}  [bold]verdict[/] [{colour}]{record.verdict.upper()}[/]",
              highlight=False, soft_wrap=True)
    folder = settings.run_dir(run_id)
    _print_gates(folder / "gates.json")
    if (results["variant"] == "clean").any():
        out.print(frame_table(headline_pivot(results), title="Clean data, all rows: value [95% CI]"))
        primary = str(record.provenance.get("primary_metric") or results["metric"].iloc[0])
        # accuracy means the same on any slice; macro-F1 or ROC AUC on a one-class slice (label=3) does not
        _print_worst_slices(results, "accuracy" if "accuracy" in set(results["metric"]) else primary)
    elif not results.empty:  # shadow replays and drift watches have no clean variant
        whole = results[(results["slice"] == "all") & ~results["variant"].str.contains("@")]
        cols = ["model", "variant", "metric", "value", "ci_low", "ci_high", "n"]
        out.print(frame_table(with_units(whole[cols].reset_index(drop=True)), title="All rows: value [95% CI]"))
    _print_frame(folder / "robustness.parquet", "Robustness (primary metric)",
                 {"model": "model", "dataset": "dataset", "perturbation": "perturbation", "clean": "clean", "worst": "worst",
                  "breaking_severity": "breaks at", "relative_robustness": "relative"})
    _print_upstream(folder / "upstream.parquet")
    _print_drift(folder / "drift.parquet")
    detail = results if slices else results[results["slice"] == "all"]
    detail = rows.select(detail) if rows else detail
    if every_row or rows:
        _print_rows(detail)
    elif len(detail):
        out.print(f"[dim]{len(detail)} rows per model × variant × slice × metric not shown: vigil show {run_id} --all, or filter "
                  "with --metric, --slice, --dataset, --model, --variant[/]", highlight=False)
    report = next((a for a in record.artifacts if a.kind == "report"), None)
    if report is not None:
        out.print(f"report: {urlparse(report.uri).path}", highlight=False, soft_wrap=True)


def _print_rows(rows: pd.DataFrame) -> None:
    """The given result rows; columns holding one value for every row go into the title instead."""
    from cli.render import frame_table, out

    cols = ["model", "dataset", "variant", "slice", "metric", "value", "ci_low", "ci_high", "n"]
    if rows.empty:
        out.print("no result rows match")
        return
    constant = [c for c in ("model", "dataset", "variant", "slice", "metric") if rows[c].nunique() == 1]
    out.print("[bold]Per variant and slice[/]" + "".join(f"  {c} {rows[c].iloc[0]}" for c in constant), highlight=False)
    out.print(frame_table(rows[[c for c in cols if c not in constant]].reset_index(drop=True)))


def _print_worst_slices(results: pd.DataFrame, metric: str, count: int = 5) -> None:
    """The ``count`` worst slices of each candidate (every model, without one) on clean data by ``metric``."""
    import pandas as pd

    from cli.render import fmt, frame_table, out
    from evaluators.metrics import METRICS

    clean = results[(results["variant"] == "clean") & (results["metric"] == metric) & results["value"].notna()]
    if (clean["role"] == "candidate").any():
        clean = clean[clean["role"] == "candidate"]
    whole = clean[clean["slice"] == "all"].set_index(["model", "dataset"])["value"]
    parts = clean[clean["slice"] != "all"]
    if parts.empty:
        return
    higher_is_better = METRICS.get(metric).higher_is_better if metric in METRICS else True
    worst = parts.sort_values("value", ascending=higher_is_better).groupby(["model", "dataset"], sort=False).head(count)
    rows = [{"model": r.model, "dataset": r.dataset, "slice": r.slice, metric: f"{fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
             "vs all rows": f"{r.value - whole.get((r.model, r.dataset), float('nan')):+.4f}", "n": str(int(r.n))}
            for r in worst.sort_values(["model", "dataset"], kind="stable").itertuples()]
    frame = pd.DataFrame(rows)
    if frame["dataset"].nunique() == 1:
        frame = frame.drop(columns="dataset")
    out.print(frame_table(frame, title=f"Worst slices by {metric} (clean data, {count} per model)"))


def _print_frame(path: Any, title: str, columns: dict[str, str]) -> None:
    """The frame stored at ``path``: ``columns`` maps its columns to the headers shown (a single dataset is not repeated)."""
    from cli.render import frame_table, out
    from storage.frames import read_frame

    if path.is_file():
        frame = read_frame(path)
        if "breaking_severity" in frame.columns:
            frame["breaking_severity"] = [("never" if v != v else str(int(v))) for v in frame["breaking_severity"]]
        keep = [c for c in columns if c in frame.columns and not (c == "dataset" and frame[c].nunique() == 1)]
        out.print(frame_table(frame[keep].rename(columns=columns), title=title))


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
