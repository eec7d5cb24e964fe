"""Stage 5: commit the run — staged Parquet first, then one index transaction.

The run becomes visible only when the index commit succeeds; re-running with the
same run id replaces the earlier results instead of adding a second copy.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

from pipeline.decide import Decision
from pipeline.plan import RunPlan
from pipeline.score import staged_results_path
from storage.frames import read_frame
from storage.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord
from storage.store import ResultStore
from suite.settings import Settings


def run_record(plan: RunPlan, decision: Decision, settings: Settings, artifacts: list[ArtifactRecord]) -> RunRecord:
    """The index record of a finished run, with its provenance."""
    provenance = {**plan.provenance, "ray_address": settings.ray_address or "local"}
    return RunRecord(
        run_id=plan.run_id,
        suite=plan.suite_name,
        suite_hash=plan.suite_hash,
        started_at=plan.started_at,
        finished_at=datetime.now(UTC),
        status="completed",
        verdict=decision.verdict,
        trigger=plan.trigger,
        provenance=provenance,
        models=[ModelVersionRecord(name=m.name, sha256=m.sha256, format=m.format, path=m.path, role=m.role, version=m.version) for m in plan.models],
        datasets=[DatasetVersionRecord(name=d.name, sha256=d.sha256, rows=d.rows, source=d.source) for d in plan.datasets],
        artifacts=artifacts,
    )


def persist_run(plan: RunPlan, decision: Decision, settings: Settings) -> str:
    """Write the gate evidence beside the results and commit the run; returns the run id."""
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    if not (staging / "gates.json").is_file():
        (staging / "gates.json").write_text(json.dumps(decision.model_dump(mode="json"), indent=2))
    final = settings.runs_dir / plan.run_id
    artifacts = [ArtifactRecord(kind="gates", uri=(final / "gates.json").as_uri(), description="gate outcomes with evidence")]
    artifacts += [ArtifactRecord(kind=p.stem, uri=(final / p.name).as_uri(), description=p.name) for p in sorted(staging.glob("*.html"))]
    if (staging / "drift.parquet").is_file():
        artifacts.append(ArtifactRecord(kind="drift_table", uri=(final / "drift.parquet").as_uri(), description="drift per dataset × column"))
    results = read_frame(staged_results_path(store, plan.run_id))
    store.commit_run(run_record(plan, decision, settings, artifacts), results)
    return plan.run_id


def discard_run(plan_run_id: str, settings: Settings) -> None:
    """Remove a failed run's staging folder so nothing half-made is left behind."""
    shutil.rmtree(ResultStore(settings).staging_dir(plan_run_id), ignore_errors=True)
