"""What a model card is made from, read once from the store: the run, its files, and the suite's history.

:func:`card_inputs` does all the reading (the SQL index, the run's results, the
files in its folder, earlier runs and drift windows of the suite);
:func:`pipeline.evaluate.card.model_card` turns the result into a card without
touching storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.evaluate.analysis import NEWLY_WRONG_FILE, REGIONS_FILE, ROBUSTNESS_FILE
from storage.frames import read_frame
from storage.records import RunRecord
from storage.store import ResultStore
from suite.errors import VigilError
from suite.ids import check_run_id
from suite.settings import Settings
from suite.spec import SuiteSpec

DRIFT_WATCH_TRIGGER = "drift-watch"  # pipeline.drift_watch.windows.TRIGGER, without importing Evidently
DRIFT_FILE = "drift.parquet"


@dataclass(frozen=True)
class CardInputs:
    """A model's stored evidence, gathered for its card.

    Attributes:
        model: The model's name.
        run: The run the metrics come from.
        results: That run's results rows.
        spec: The suite as parsed, when its file is at hand (slice definitions, dataset loaders); else None.
        robustness: ``robustness.parquet`` of the run, if written.
        worst_regions: ``worst_regions.parquet`` of the run, if written.
        newly_wrong_vs_baseline: ``newly_wrong.parquet`` of the run, if written.
        drift: ``drift.parquet`` of the run (drift against the reference), if written.
        history: The primary metric of this model, clean, whole set, across the suite's completed runs.
        windows: Drift-window runs of the suite: per window, the data drift share and this model's metrics.
        previous: The latest earlier run that evaluated a different checkpoint of the model, if any.
        newly_wrong_vs_previous: Per dataset, rows this run's model gets wrong and the previous version got right.
    """

    model: str
    run: RunRecord
    results: pd.DataFrame
    spec: SuiteSpec | None
    robustness: pd.DataFrame | None
    worst_regions: pd.DataFrame | None
    newly_wrong_vs_baseline: pd.DataFrame | None
    drift: pd.DataFrame | None
    history: pd.DataFrame
    windows: pd.DataFrame
    previous: RunRecord | None
    newly_wrong_vs_previous: pd.DataFrame | None

    @property
    def primary(self) -> str:
        """The run's primary metric."""
        return str(self.run.provenance.get("primary_metric") or self.results["metric"].iloc[0])

    @property
    def metadata(self) -> dict[str, Any]:
        """What the suite declared about the model (``models[].metadata``) when the run was made."""
        if "model_metadata" in self.run.provenance:  # recorded by the run: what it was made with
            return dict((self.run.provenance["model_metadata"] or {}).get(self.model) or {})
        found = next((m.metadata for m in self.spec.models if m.name == self.model), {}) if self.spec is not None else {}
        return dict(found)


def is_evaluation(run: RunRecord) -> bool:
    """A completed evaluation run (not a drift window or a shadow replay, which commit as runs of the suite too)."""
    return run.status == "completed" and run.trigger != DRIFT_WATCH_TRIGGER and not {"shadow", "window"} & set(run.provenance)


def choose_run(store: ResultStore, suite: str, model: str, run_id: str | None) -> RunRecord:
    """``run_id``'s record, or the latest completed evaluation of ``suite`` that evaluated ``model``."""
    if run_id is not None:
        run = store.get_run(check_run_id(run_id, "--run"))
        if run is None:
            raise VigilError(f"--run {run_id!r}: no such run (see `vigil runs --suite {suite}`)")
        if run.suite != suite:
            raise VigilError(f"--run {run_id!r}: expected a run of suite {suite!r}, got one of {run.suite!r}")
        if not is_evaluation(run):
            raise VigilError(f"--run {run_id!r}: expected a completed evaluation run, got a {run.status} {run.trigger} run")
        if model not in {m.name for m in run.models}:
            raise VigilError(f"model {model!r}: not evaluated in run {run_id}; it evaluated {sorted(m.name for m in run.models)}")
        return run
    runs = [r for r in store.list_runs(suite=suite, limit=1000) if is_evaluation(r)]
    if not runs:
        raise VigilError(f"suite {suite!r}: no completed evaluation runs stored (run `vigil run` on its suite first)")
    for run in runs:
        if model in {m.name for m in run.models}:
            return run
    seen = sorted({m.name for r in runs for m in r.models})
    raise VigilError(f"model {model!r}: no completed run of suite {suite!r} evaluated it; models seen: {seen}")


def _optional(folder: Any, name: str) -> pd.DataFrame | None:
    path = folder / name
    return read_frame(path) if path.is_file() else None


def _for_model(frame: pd.DataFrame | None, model: str) -> pd.DataFrame | None:
    if frame is None or "model" not in frame.columns:
        return frame
    return frame[frame["model"] == model].reset_index(drop=True)


def _windows(store: ResultStore, suite: str, model: str) -> pd.DataFrame:
    rows = []
    for run in reversed(store.list_runs(suite=suite, limit=1000)):
        if run.trigger != DRIFT_WATCH_TRIGGER or run.status != "completed":
            continue
        results = store.run_results(run.run_id)
        share = results[(results["model"] == "data") & (results["metric"] == "drift_share")]
        mine = results[results["model"] == model].set_index("metric")
        row = {"run_id": run.run_id, "window": run.started_at.isoformat(timespec="minutes"),
               "dataset": run.datasets[0].name if run.datasets else "", "rows": run.datasets[0].rows if run.datasets else 0,
               "drift_share": float(share["value"].iloc[0]) if not share.empty else float("nan"),
               "pattern": str(run.provenance.get("pattern") or "")}
        for metric in ("accuracy", "accuracy_estimated", "prediction_drift_share"):
            row[metric] = float(mine.loc[metric, "value"]) if metric in mine.index and not isinstance(mine.loc[metric, "value"], pd.Series) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=["run_id", "window", "dataset", "rows", "drift_share", "pattern", "accuracy",
                                       "accuracy_estimated", "prediction_drift_share"])


def _previous_version(store: ResultStore, run: RunRecord, model: str) -> RunRecord | None:
    sha = next((m.sha256 for m in run.models if m.name == model), None)
    for earlier in store.list_runs(suite=run.suite, limit=1000):
        if not is_evaluation(earlier) or earlier.started_at >= run.started_at:
            continue
        other = next((m.sha256 for m in earlier.models if m.name == model), None)
        if other is not None and other != sha:
            return earlier
    return None


def _newly_wrong_vs(store: ResultStore, run: RunRecord, previous: RunRecord, model: str) -> pd.DataFrame | None:
    """Rows (by sample id) the model gets wrong in ``run`` and got right in ``previous``, per shared dataset."""
    frames = []
    for data in run.datasets:
        try:
            now = store.read_predictions(run.run_id, data.name, model, "clean")
            before = store.read_predictions(previous.run_id, data.name, model, "clean")
        except (OSError, VigilError):
            continue  # predictions not kept for one of the runs: the card says so
        if "y_pred" not in now.columns or "y_pred" not in before.columns:
            continue
        joined = now[["sample_id", "y_true", "y_pred"]].merge(before[["sample_id", "y_pred"]], on="sample_id", suffixes=("", "_previous"))
        lost = joined[(joined["y_pred"] != joined["y_true"]) & (joined["y_pred_previous"] == joined["y_true"])]
        frames.append(lost.assign(dataset=data.name, compared=len(joined)))
    return pd.concat(frames, ignore_index=True) if frames else None


def card_inputs(settings: Settings, *, suite: str, model: str, run_id: str | None = None, spec: SuiteSpec | None = None) -> CardInputs:
    """Read everything the card of ``model`` needs from the store (see :class:`CardInputs`)."""
    store = ResultStore(settings)
    run = choose_run(store, suite, model, run_id)
    missing = store.broken_runs([run.run_id]).get(run.run_id)
    if missing is not None:
        raise VigilError(f"run {run.run_id!r} is broken: the index lists it but {missing} is gone")
    return gather(store, run, store.run_results(run.run_id), settings.run_dir(run.run_id), model, spec)


def gather(store: ResultStore, run: RunRecord, results: pd.DataFrame, folder: Path, model: str, spec: SuiteSpec | None) -> CardInputs:
    """A model's evidence: ``run`` (committed, or about to be: its ``results`` and ``folder`` given) and the suite's history."""
    primary = str(run.provenance.get("primary_metric") or results["metric"].iloc[0])
    evaluated = {d.name for d in run.datasets}
    history = store.history(suite=run.suite, metric=primary, model=model)
    history = history[history["dataset"].isin(evaluated) & (history["run_id"] != run.run_id)]
    current = results[(results["model"] == model) & (results["metric"] == primary) & (results["variant"] == "clean") & (results["slice"] == "all")]
    now = current.assign(started_at=pd.Timestamp(run.started_at).tz_convert("UTC") if pd.Timestamp(run.started_at).tzinfo else pd.Timestamp(run.started_at, tz="UTC"))
    history = pd.concat([history, now[[c for c in history.columns if c in now.columns]]], ignore_index=True) if not now.empty else history
    previous = _previous_version(store, run, model)
    return CardInputs(
        model=model, run=run, results=results, spec=spec,
        robustness=_for_model(_optional(folder, ROBUSTNESS_FILE), model),
        worst_regions=_for_model(_optional(folder, REGIONS_FILE), model),
        newly_wrong_vs_baseline=_for_model(_optional(folder, NEWLY_WRONG_FILE), model),
        drift=_optional(folder, DRIFT_FILE), history=history.reset_index(drop=True), windows=_windows(store, run.suite, model),
        previous=previous, newly_wrong_vs_previous=_newly_wrong_vs(store, run, previous, model) if previous else None,
    )
