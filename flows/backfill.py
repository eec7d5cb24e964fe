"""The ``backfill`` flow: re-run a suite over past model versions and time windows (idempotently).

Pieces already recorded are skipped, so a re-run after a crash does only what is
left. The aging curve (each version's metric on every window) is published as a
table artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from flows.evaluate import evaluate_suite
from flows.publish import artifact_key
from pipeline.triggers.backfill import aging_curve, piece_suite, plan_backfill, split_windows
from pipeline.triggers.derive import ModelUpdate
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import load_settings


def _run_name() -> str:
    path = Path(str(flow_run.parameters["suite_path"]))
    return f"{path.parent.name}/{path.stem} · backfill"


@flow(name="backfill", flow_run_name=_run_name, log_prints=True)
def backfill(
    suite_path: str, versions: list[dict[str, Any]] | None = None, dataset: str | None = None,
    freq: str | None = None, metric: str | None = None, ray_address: str | None = None,
) -> dict[str, Any]:
    """Evaluate each (version × window) piece not yet recorded; returns run ids and the aging curve.

    Args:
        suite_path: The suite file.
        versions: Past versions, each ``{model, version, path, sha256}``; none means the suite's models.
        dataset: The dataset to cut into windows by its timestamp column (with ``freq``).
        freq: A pandas period such as ``W`` or ``M``; none evaluates all data once.
        metric: The aging curve's metric (default: the suite's primary metric).
    """
    settings = load_settings(ray_address)
    suite = load_suite(suite_path)
    work = settings.home / "backfill" / suite.name
    windows = split_windows(suite, dataset, freq, work / "windows") if dataset and freq else None
    pieces = plan_backfill(suite, versions=[ModelUpdate(**v) for v in versions or []], windows=windows)
    store, ran, skipped = ResultStore(settings), [], []
    for piece in pieces:
        done = store.get_run(piece.run_id)
        if done is not None and done.status == "completed":
            skipped.append(piece.run_id)
            continue
        derived = piece_suite(suite_path, piece, dataset, work / "suites")
        evaluate_suite(suite_path=str(derived), run_id=piece.run_id, ray_address=ray_address, trigger="backfill")
        ran.append(piece.run_id)
    import pandas as pd

    results = pd.concat([store.run_results(p.run_id) for p in pieces], ignore_index=True)
    curve = aging_curve(results, pieces, metric or suite.primary())
    create_table_artifact(key=artifact_key(suite.name, "aging"), table=curve.astype({"n": int}).to_dict("records"), description=f"Aging curve of {suite.name}")
    print(f"backfill {suite.name}: {len(ran)} pieces run, {len(skipped)} already recorded")
    return {"ran": ran, "skipped": skipped, "curve": curve.to_dict("records")}
