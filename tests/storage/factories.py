"""Small runs and results frames for storage tests, and threads raced against each other."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from storage.records import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord, RunRecord

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_run(run_id: str, *, suite: str = "digits", day: int = 0, verdict: str = "pass", status: str = "completed") -> RunRecord:
    """A run of ``suite`` that started ``day`` days after :data:`T0`."""
    started = T0 + timedelta(days=day)
    return RunRecord(
        run_id=run_id,
        suite=suite,
        suite_hash="hash-" + suite,
        started_at=started,
        finished_at=started + timedelta(minutes=3),
        status=status,  # type: ignore[arg-type]
        verdict=verdict,  # type: ignore[arg-type]
        trigger="schedule",
        provenance={"seed": 7, "packages": {"pandas": pd.__version__}, "gpu": None},
        models=[
            ModelVersionRecord(name="mlp", sha256="aa" * 32, format="torch", path="m/mlp.pt", role="candidate", version="2"),
            ModelVersionRecord(name="logreg", sha256="bb" * 32, format="skops", path="m/lr.skops", role="baseline"),
        ],
        datasets=[DatasetVersionRecord(name="test", sha256="cc" * 32, rows=360, source="data/test.csv")],
        artifacts=[ArtifactRecord(kind="drift_report", uri="/elsewhere/drift.html", description="drift")],
    )


def make_results(run: RunRecord, *, accuracy: float = 0.9, seed: int = 0) -> pd.DataFrame:
    """Long-format rows: 2 models × 2 variants × 2 slices × 2 metrics, accuracy of mlp/clean/all = ``accuracy``.

    ``ci_method`` varies as scoring chooses it: the whole set gets a large-slice
    method (``normal-sums`` for accuracy, ``bootstrap-cells`` for macro-F1), a
    slice the exact ``bootstrap``.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for model, sha, role in (("mlp", "aa" * 32, "candidate"), ("logreg", "bb" * 32, "baseline")):
        for variant in ("clean", "gaussian_noise:3"):
            for slice_name, n in (("all", 360), ("label=3", 36)):
                for metric in ("accuracy", "macro_f1"):
                    value = float(rng.uniform(0.5, 1.0))
                    if (model, variant, slice_name, metric) == ("mlp", "clean", "all", "accuracy"):
                        value = accuracy
                    rows.append(
                        {
                            "run_id": run.run_id,
                            "suite": run.suite,
                            "suite_hash": run.suite_hash,
                            "dataset": "test",
                            "model": model,
                            "model_sha": sha,
                            "role": role,
                            "variant": variant,
                            "slice": slice_name,
                            "metric": metric,
                            "metric_version": "1",
                            "value": value,
                            "ci_low": value - 0.05,
                            "ci_high": min(1.0, value + 0.05),
                            "n": n,
                            "created_at": run.started_at + timedelta(minutes=2),
                            "ci_method": ("normal-sums" if metric == "accuracy" else "bootstrap-cells") if slice_name == "all" else "bootstrap",
                        }
                    )
    return pd.DataFrame(rows)


def race(work: Callable[[int], object], workers: int) -> list[BaseException]:
    """Run ``work(0)`` … ``work(workers - 1)`` on as many threads, released together; what they raised.

    Exceptions are collected rather than lost in the threads, for the caller to assert on.
    """
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        start.wait()
        try:
            work(worker)
        except BaseException as error:  # collected and returned
            errors.append(error)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
