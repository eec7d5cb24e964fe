"""A realistic report's data, built from constructed results and real gate outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from evaluators.gates import GateOutcome, outcomes_frame
from reports import ReportData


def results(seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    base_values = {"candidate": {"accuracy": 0.90, "log_loss": 0.31}, "baseline": {"accuracy": 0.93, "log_loss": 0.25}}
    names = {"candidate": "mlp-v2", "baseline": "mlp-v1"}
    slices = ["all"] + [f"label={k}" for k in range(5)]
    variants = ["clean"] + [f"gaussian_noise:{s}" for s in range(1, 6)] + [f"blur:{s}" for s in range(1, 6)]
    for role, metrics in base_values.items():
        for variant in variants:
            severity = int(variant.split(":")[1]) if ":" in variant else 0
            for slice_ in slices if variant == "clean" else ["all"]:
                for metric, value in metrics.items():
                    rate = 0.5 if variant.startswith("blur") else 1.0
                    step = rate * (0.03 * severity if metric == "accuracy" else -0.08 * severity)
                    v = value - step + shift + (rng.normal(0, 0.015) if slice_ != "all" else 0.0)
                    half = 0.02 if slice_ == "all" else 0.05
                    rows.append(dict(run_id="run-7", suite="digits", suite_hash="ab12", dataset="digits-test",
                                     model=names[role], model_sha="f00d", role=role, variant=variant, slice=slice_,
                                     metric=metric, metric_version="1", value=v, ci_low=v - half, ci_high=v + half,
                                     n=360 if slice_ == "all" else 72, created_at=datetime(2026, 11, 25, tzinfo=UTC)))
    return pd.DataFrame(rows)


def report_data(**overrides: object) -> ReportData:
    outcomes = outcomes_frame([
        GateOutcome("accuracy drop vs baseline ≤ 0.01 (α=0.05)", "mlp-v2", "all", "fail", 0.03, 0.01,
                    ci_low=-0.05, ci_high=-0.012, diff=-0.03, p_value=0.002, n=360,
                    reason="drop 0.03 > 0.01 and significant (p=0.002)", dataset="digits-test"),
        GateOutcome("accuracy ≥ 0.85", "mlp-v2", "all", "pass", 0.90, 0.85, ci_low=0.88, ci_high=0.92, n=360,
                    reason="CI [0.88, 0.92] within bound", dataset="digits-test"),
        GateOutcome("accuracy ≥ 0.85 per slice", "mlp-v2", "label=3", "reported", 0.7, 0.85, n=12,
                    reason="n=12 < min_slice_n=30: not gated", dataset="digits-test"),
    ])
    start = datetime(2026, 11, 1, tzinfo=UTC)
    history = pd.DataFrame([
        dict(created_at=start + timedelta(days=d), model=m, metric=metric, value=v + 0.002 * d, ci_low=v + 0.002 * d - 0.02,
             ci_high=v + 0.002 * d + 0.02)
        for d in range(10) for m, off in (("mlp-v2", 0.0), ("mlp-v1", 0.02))
        for metric, v in (("accuracy", 0.88 + off), ("log_loss", 0.35 - off))
    ])
    drift = pd.DataFrame(dict(dataset="digits-test", column=[f"px_{i}" for i in range(6)], method="ks",
                              score_kind="p_value", score=[0.001, 0.2, 0.5, 0.03, 0.9, 0.7], threshold=0.05,
                              drifted=[True, False, False, True, False, False]))
    fields: dict[str, object] = dict(
        title="digits · run-7", verdict="fail", outcomes=outcomes, results=results(), primary_metric="accuracy",
        higher_is_better={"accuracy": True, "log_loss": False}, drift=drift, history=history,
        provenance={"suite_hash": "ab12", "models": {"mlp-v2": "f00d", "mlp-v1": "beef"}, "seed": 0},
        worst_regions=pd.DataFrame(dict(family=["label"], region=["3"], n=[72], cand_error=[0.2], base_error=[0.1],
                                        diff=[0.1], newly_wrong=[9], newly_right=[2], z=[2.1], p_value=[0.03])),
        newly_wrong=pd.DataFrame(dict(sample_id=[17, 42], y_true=[3, 3], pred_candidate=[8, 5],
                                      pred_baseline=[3, 3], confidence=[0.97, 0.61])),
        generated_at=datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
    )
    fields.update(overrides)
    return ReportData(**fields)  # type: ignore[arg-type]
