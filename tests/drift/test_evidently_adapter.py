"""The Evidently adapter on small real frames: flags from tests, HTML, prediction and target drift."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift.evidently_adapter import run_data_drift, run_prediction_drift, run_target_drift, save_html

from .conftest import mixed_frames


def test_flags_scores_and_dataset_verdict(tmp_path):
    ref, cur = mixed_frames(600, seed=11)
    result, snapshot = run_data_drift(ref, cur, share_threshold=0.5)
    flags = {r.column: r.drifted for r in result.columns}
    assert flags == {"shifted": True, "wider": True, "steady": False, "cat_new": True,
                     "cat_steady": False, "binary": False}
    assert result.share_drifted == 0.5 and result.dataset_drifted  # Evidently: share >= 0.5 fails
    assert all(r.engine == "evidently" and r.n_reference == 600 for r in result.columns)
    assert [r.column for r in result.columns] == list(ref.columns)
    path = save_html(snapshot, tmp_path / "report" / "drift.html")
    assert path.stat().st_size > 10_000 and "<html" in path.read_text()[:2000].lower()


def test_dataset_verdict_comes_from_evidentlys_share_test():
    ref, cur = mixed_frames(600, seed=11)
    result, _ = run_data_drift(ref, cur, share_threshold=0.9)
    assert result.share_drifted == 0.5 and not result.dataset_drifted


def test_threshold_override_reaches_evidently():
    ref, cur = mixed_frames(600, seed=11)
    result, _ = run_data_drift(ref, cur, ["steady"], per_column_threshold={"steady": 0.999})
    (steady,) = result.columns
    assert steady.threshold == 0.999 and steady.drifted == (steady.score < 0.999)


def _predictions(n: int, rng: np.random.Generator, positive_rate: float) -> pd.DataFrame:
    p1 = np.clip(rng.beta(2, 2, n) * positive_rate * 2, 0, 1)
    y_true = (rng.random(n) < p1).astype(int)
    return pd.DataFrame({"sample_id": np.arange(n), "y_true": y_true, "y_pred": (p1 > 0.5).astype(int),
                         "score_0": 1 - p1, "score_1": p1})


def test_prediction_and_target_drift():
    rng = np.random.default_rng(5)
    ref, cur = _predictions(800, rng, 0.5), _predictions(800, rng, 0.25)
    preds, _ = run_prediction_drift(ref, cur)
    assert {r.column for r in preds.columns} == {"y_pred", "score_0", "score_1"}
    assert preds.by_column()["y_pred"].method in {"z", "chi_square"}  # predicted class is categorical
    assert all(r.drifted for r in preds.columns)
    target = run_target_drift(ref, cur)
    assert target is not None and target[0].columns[0].drifted
    assert run_target_drift(ref, cur.assign(y_true=np.nan)) is None  # labels not arrived yet
