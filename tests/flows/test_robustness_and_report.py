"""Perturbed variants on the workers, robustness summaries, cost gates and the run report, end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pathlib import Path

from evaluators.perturbations import BoundPerturbation
from evaluators.perturbations.base import context_from_frame
from flows.evaluate import evaluate_suite
from storage.datasets import load_dataset
from storage.frames import read_frame
from storage.store import ResultStore
from suite.load import load_suite
from suite.settings import load_settings
from tests.suite_edits import slim_suite
from workers.predictor import Predictor

pytestmark = pytest.mark.usefixtures("prefect_server")


def _suite(path: Path, **changes: object) -> None:
    slim_suite(path, **{"bootstrap": {"resamples": 200}, "drift_gate": None, **changes})


def test_noise_curves_fall_with_severity_and_breaking_severity_is_reported(digits_suite: Path, vigil_home: Path) -> None:
    _suite(digits_suite, perturbations=[{"kind": "image_gaussian_noise"}], robustness_gates=[])
    evaluate_suite(suite_path=str(digits_suite), run_id="robust")
    store = ResultStore(load_settings())
    results = store.run_results("robust")
    curve = results[(results.slice == "all") & (results.metric == "macro_f1") & (results.model == "cnn")].set_index("variant")["value"]
    values = [curve["clean"]] + [curve[f"image_gaussian_noise:{s}"] for s in range(1, 6)]
    assert values[-1] < values[2] < values[0]
    assert sum(b < a for a, b in zip(values, values[1:])) >= 4  # falls at (almost) every step
    summary = read_frame(vigil_home / "runs" / "robust" / "robustness.parquet").set_index(["model", "perturbation"])
    row = summary.loc[("cnn", "image_gaussian_noise")]
    assert 1 <= row["breaking_severity"] <= 5
    assert 0 < row["relative_robustness"] < 1
    assert row["clean"] == pytest.approx(curve["clean"])
    report = vigil_home / "runs" / "robust" / "report.html"  # the digits example's report with its charts
    page = report.read_text()
    for chart in ("metrics", "slices", "robustness"):
        assert f'id="chart-{chart}"' in page
    assert report.stat().st_size < 1_500_000  # plotly.js carried once, compressed (it was 4.6 MB)


def test_perturbed_predictions_match_an_in_process_replay(digits_suite: Path, vigil_home: Path) -> None:
    """Perturbations made on the Ray workers equal the same perturbation applied here (seeded per sample)."""
    _suite(digits_suite, perturbations=[{"kind": "occlusion", "severities": [3]}], robustness_gates=[])
    evaluate_suite(suite_path=str(digits_suite), run_id="replay")
    suite = load_suite(digits_suite)
    data = load_dataset(suite.datasets[0], suite)
    context = context_from_frame(data.frame, data.features, None, image_shape=(8, 8), num_classes=10)
    perturbed = BoundPerturbation("occlusion", 3, suite.seed, context)(data.frame[data.features].to_numpy(np.float32), data.sample_ids)
    local = Predictor(suite.models[0], suite.base_dir, task="classification", num_classes=10)(perturbed)
    stored = ResultStore(load_settings()).read_predictions("replay", "digits-test", "cnn", "occlusion:3").sort_values("sample_id")
    order = np.argsort(data.sample_ids)
    np.testing.assert_allclose(stored[[f"score_{k}" for k in range(10)]].to_numpy(), local[order], rtol=1e-5, atol=1e-6)


def test_cost_gate_and_report(digits_suite: Path, vigil_home: Path) -> None:
    costs = {"matrix": {t: {p: 2.0 for p in range(10) if p != t} for t in range(10)}}  # every error costs 2
    _suite(digits_suite, perturbations=[], robustness_gates=[], costs=costs,
           gates=[{"metric": "expected_cost", "max": 0.0001}])
    outcome = evaluate_suite(suite_path=str(digits_suite), run_id="costly")
    store = ResultStore(load_settings())
    results = store.run_results("costly")
    cost = results[(results.metric == "expected_cost") & (results.slice == "all") & (results.model == "cnn")]
    preds = store.read_predictions("costly", "digits-test", "cnn", "clean")
    assert cost["value"].iloc[0] == pytest.approx(2.0 * (preds.y_true != preds.y_pred).mean())
    assert outcome["verdict"] == "fail"  # the CNN makes a few errors: its whole CI lies above the bound
    run = store.get_run("costly")
    report = next(a for a in run.artifacts if a.kind == "report")
    html = Path(report.uri.removeprefix("file://")).read_text()
    assert "id='verdict'>" in html and "chart-metrics" in html and html.count("<script") >= 2
    assert "expected_cost" in html
    regions = read_frame(vigil_home / "runs" / "costly" / "worst_regions.parquet")
    assert {"family", "region", "z", "model", "baseline"} <= set(regions.columns)
    assert isinstance(run.provenance["model_metadata"], dict) and run.provenance["primary_metric"] == "macro_f1"
    assert pd.notna(cost["ci_low"].iloc[0])


def test_tabular_noise_curve_falls_on_the_breast_cancer_example(cancer_suite: Path, vigil_home: Path) -> None:
    _suite(cancer_suite, perturbations=[{"kind": "gaussian_noise"}], robustness_gates=[], drift=None, drift_gate=None,
           gates=[{"metric": "roc_auc", "min": 0.9}])
    evaluate_suite(suite_path=str(cancer_suite), run_id="tabular")
    results = ResultStore(load_settings()).run_results("tabular")
    for model in ("boosting", "mlp"):
        curve = results[(results.slice == "all") & (results.metric == "accuracy") & (results.model == model)].set_index("variant")["value"]
        assert curve["gaussian_noise:5"] < curve["gaussian_noise:3"] < curve["clean"] + 1e-9
    summary = read_frame(vigil_home / "runs" / "tabular" / "robustness.parquet")
    assert set(summary["perturbation"]) == {"gaussian_noise"} and set(summary["model"]) == {"boosting", "mlp"}
