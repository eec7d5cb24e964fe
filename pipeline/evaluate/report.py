"""The run report: one self-contained HTML file, verdict first, from a run's stored pieces.

The same builder serves the flow (rendering into the staging folder before the
commit, so the report is committed with the run) and ``vigil report`` (rendering
a committed run again, with the history as it stands now).

A model's training proxy is read from its suite metadata, e.g.
``metadata: {proxy: {name: val_loss, value: 0.12, higher_is_better: false}}``;
across the suite's committed runs it is set against the primary metric to show
whether the two moved together.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from evaluators.alignment import proxy_alignment
from evaluators.metrics import METRICS
from pipeline.evaluate.analysis import NEWLY_WRONG_FILE, REGIONS_FILE, ROBUSTNESS_FILE
from pipeline.commit import model_record
from pipeline.evaluate.attribution import UPSTREAM_FILE
from pipeline.evaluate.card import model_card
from pipeline.evaluate.card_inputs import gather
from reports import ReportData
from reports.card import ModelCard
from storage.frames import read_frame
from storage.records import DatasetVersionRecord, RunRecord
from storage.store import ResultStore
from suite.ids import check_run_id

REPORT_FILE = "report.html"


def _optional(folder: Path, name: str) -> pd.DataFrame | None:
    return read_frame(folder / name) if (folder / name).is_file() else None


def metric_history(store: ResultStore, suite: str, results: pd.DataFrame) -> pd.DataFrame:
    """Clean whole-set history of every metric and model in ``results`` (committed runs)."""
    frames = []
    for (model, metric), _ in results[(results["variant"] == "clean") & (results["slice"] == "all")].groupby(["model", "metric"]):
        points = store.history(suite=suite, metric=metric, model=model)
        if not points.empty:
            frames.append(points.assign(model=model, metric=metric).rename(columns={"started_at": "created_at"}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def alignment_table(store: ResultStore, suite: str, primary: str, current: dict[str, Any] | None = None) -> pd.DataFrame:
    """Per candidate version: its proxy, the primary metric, and whether they disagreed in direction."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    runs = list(reversed(store.list_runs(suite=suite, limit=500)))
    entries = [(r.provenance, store.run_results(r.run_id)) for r in runs if r.status == "completed"]
    if current is not None:
        entries.append((current["provenance"], current["results"]))
    for provenance, results in entries:
        for model, meta in (provenance.get("model_metadata") or {}).items():
            proxy = meta.get("proxy") if isinstance(meta, dict) else None
            row = results[(results["model"] == model) & (results["metric"] == primary) & (results["variant"] == "clean") & (results["slice"] == "all")]
            if not proxy or row.empty:
                continue
            version = (provenance.get("model_versions") or {}).get(model) or provenance["models"][model][:12]
            records[(model, version)] = {"model": model, "version": version, "proxy_name": proxy["name"], "proxy": float(proxy["value"]),
                                         "proxy_higher_is_better": bool(proxy.get("higher_is_better", False)), "downstream": float(row["value"].iloc[0])}
    frames = []
    for model, group in pd.DataFrame(records.values()).groupby("model", sort=True) if records else []:
        if len(group) < 2:
            continue
        found = proxy_alignment(group, proxy_higher_is_better=bool(group["proxy_higher_is_better"].iloc[0]), downstream_higher_is_better=METRICS.get(primary).higher_is_better if primary in METRICS else False)
        frames.append(found.versions.assign(model=model, proxy_name=group["proxy_name"].iloc[0], metric=primary, spearman=found.spearman))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def build_report_data(store: ResultStore, *, folder: Path, title: str, suite: str, verdict: str, results: pd.DataFrame,
                      provenance: dict[str, Any], primary: str, include_current: bool, cards: tuple[ModelCard, ...] = ()) -> ReportData:
    """Gather a run's results and analyses from its folder into :class:`ReportData` (``cards``: the models' cards, built by the caller)."""
    gates = json.loads((folder / "gates.json").read_text()) if (folder / "gates.json").is_file() else {"outcomes": []}
    drift = _optional(folder, "drift.parquet")
    current = {"provenance": provenance, "results": results} if include_current else None
    return ReportData(
        title=title, verdict=verdict, outcomes=pd.DataFrame(gates.get("outcomes", [])), results=results,
        provenance=provenance, primary_metric=primary,
        higher_is_better={name: METRICS.get(name).higher_is_better if name in METRICS else False for name in results["metric"].unique()},
        across_classes=frozenset(name for name in results["metric"].unique() if name in METRICS and METRICS.get(name).across_classes),
        drift=drift, history=metric_history(store, suite, results),
        worst_regions=_optional(folder, REGIONS_FILE), newly_wrong=_optional(folder, NEWLY_WRONG_FILE),
        robustness=_optional(folder, ROBUSTNESS_FILE), alignment=alignment_table(store, suite, primary, current),
        upstream=_optional(folder, UPSTREAM_FILE), cards=cards,
    )


def run_cards(store: ResultStore, run: RunRecord, results: pd.DataFrame, folder: Path, spec: Any = None) -> tuple[ModelCard, ...]:
    """The card of every model of ``run`` (committed, or staged in ``folder``), from its files and the suite's history."""
    if results.empty:
        return ()
    return tuple(model_card(gather(store, run, results, folder, m.name, spec)) for m in run.models)


def _planned_run(plan: Any, verdict: str) -> RunRecord:
    """The record a run about to be committed will have (what its cards read)."""
    return RunRecord(run_id=plan.run_id, suite=plan.suite_name, suite_hash=plan.suite_hash, started_at=plan.started_at, status="completed",
                     verdict=verdict, trigger=plan.trigger, provenance=plan.provenance, models=[model_record(m) for m in plan.models],
                     datasets=[DatasetVersionRecord(name=d.name, sha256=d.sha256, rows=d.rows, source=d.source) for d in plan.datasets])


def write_report(data: ReportData, path: Path) -> Path:
    """Render ``data`` to ``path`` atomically."""
    from reports.render import render_report  # brings Plotly: imported when a report is written, not at start-up

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_report(data), encoding="utf-8")
    tmp.replace(path)
    return path


def stage_report(plan: Any, decision: Any, settings: Any) -> str:
    """Render the report of a run about to be committed into its staging folder; returns its path."""
    from pipeline.evaluate.score import staged_results_path

    store = ResultStore(settings)
    folder = store.staging_dir(plan.run_id)
    (folder / "gates.json").write_text(json.dumps(decision.model_dump(mode="json"), indent=2))
    results = read_frame(staged_results_path(store, plan.run_id))
    data = build_report_data(
        store, folder=folder, title=f"{plan.suite_name} · run {plan.run_id}", suite=plan.suite_name,
        verdict=decision.verdict, results=results, provenance=plan.provenance, primary=plan.suite.primary(), include_current=True,
        cards=run_cards(store, _planned_run(plan, decision.verdict), results, folder, plan.suite),
    )
    return str(write_report(data, folder / REPORT_FILE))


def rerender_report(run_id: str, settings: Any, out: Path | None = None) -> Path:
    """Render a committed run's report again (history as of now); returns the file written."""
    from suite.errors import VigilError

    store = ResultStore(settings)
    run = store.get_run(check_run_id(run_id))
    if run is None:
        raise VigilError(f"run {run_id!r} not found (see `vigil runs`)")
    missing = store.broken_runs([run_id]).get(run_id)
    if missing is not None:
        raise VigilError(f"run {run_id!r} is broken: the index lists it but {missing} is gone; re-run it with --run-id {run_id}")
    results = store.run_results(run_id)
    primary = _primary_of(run.provenance, results)
    folder = settings.run_dir(run_id)
    data = build_report_data(store, folder=folder, title=f"{run.suite} · run {run_id}", suite=run.suite, verdict=run.verdict,
                             results=results, provenance=run.provenance, primary=primary, include_current=False,
                             cards=run_cards(store, run, results, folder))
    return write_report(data, out or folder / REPORT_FILE)


def _primary_of(provenance: dict[str, Any], results: pd.DataFrame) -> str:
    return str(provenance.get("primary_metric") or results["metric"].iloc[0])
