"""Stage 5: commit the run — staged Parquet first, then one index transaction.

The run becomes visible only when the index commit succeeds; re-running with the
same run id replaces the earlier results instead of adding a second copy. The
commit itself, shared with the other run kinds, is :func:`pipeline.commit.commit_staged_run`.
"""

from __future__ import annotations

import json

from pipeline.commit import StagedArtifact, StagedRun, commit_staged_run, model_record
from pipeline.evaluate.decide import Decision
from pipeline.evaluate.infer import staged_placements
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import staged_results_path
from storage.frames import read_frame
from storage.records import DatasetVersionRecord
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings, pause_for_tests

SUITE_FILE = "suite.yaml"
"""The suite's text as the run read it, in the run folder."""


def staged_run(plan: RunPlan, decision: Decision, settings: Settings) -> StagedRun:
    """What an evaluation run is: its plan's models, data and provenance, its verdict, and its files.

    The files: the gate evidence, every HTML report in the staging folder (kind: the
    file's stem), the drift table when the suite checks drift, and the suite's exact text
    (``suite.yaml``, what ``vigil reproduce`` runs again). Provenance gains ``prediction_sha256``:
    a hash of each model × dataset × variant's predictions (``model/dataset/variant`` → sha256).
    """
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    artifacts = [StagedArtifact(kind="gates", file="gates.json", description="gate outcomes with evidence")]
    artifacts += [StagedArtifact(kind=p.stem, file=p.name, description=p.name) for p in sorted(staging.glob("*.html"))]
    artifacts.append(StagedArtifact(kind="drift_table", file="drift.parquet", description="drift per dataset × column"))
    artifacts.append(StagedArtifact(kind="suite", file=SUITE_FILE, description="the suite's exact text, as run"))
    return StagedRun(
        run_id=plan.run_id, suite=plan.suite_name, suite_hash=plan.suite_hash, started_at=plan.started_at,
        trigger=plan.trigger, verdict=decision.verdict, provenance=plan.provenance,
        details={"placements": staged_placements(plan, settings), "prediction_sha256": prediction_hashes(plan, store)},
        models=[model_record(m) for m in plan.models],
        datasets=[DatasetVersionRecord(name=d.name, sha256=d.sha256, rows=d.rows, source=d.source) for d in plan.datasets],
        artifacts=artifacts,
    )


def prediction_hashes(plan: RunPlan, store: ResultStore) -> dict[str, str]:
    """``model/dataset/variant`` → :func:`storage.manifest.frame_sha256` of the predictions this run staged (those it has), streamed."""
    hashes = {}
    for item in plan.work_items():
        try:
            hashes[f"{item.model}/{item.dataset}/{item.variant}"] = store.predictions_sha256(plan.run_id, item.dataset, item.model, item.variant)
        except VigilError:  # a run that scored nothing staged none
            continue
    return hashes


def persist_run(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    """Write the gate evidence and the suite's text beside the results and commit the run; returns the run id."""
    pause_for_tests("persist", settings.home)
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    if not (staging / "gates.json").is_file():
        (staging / "gates.json").write_text(json.dumps(decision.model_dump(mode="json"), indent=2))
    if plan.suite_text is not None:
        (staging / SUITE_FILE).write_bytes(plan.suite_text.encode())
    results = read_frame(staged_results_path(store, plan.run_id))
    commit_staged_run(staged_run(plan, decision, settings), results, settings, store)
    return plan.run_id
