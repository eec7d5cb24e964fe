"""replay_compare on sample logs with known disagreements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluators.shadow import replay_compare
from bench.sample_log import build_request_log, write_sample_log
from pipeline.shadow.log import read_request_log
from evaluators.shadow.request_log.rows import LogSchema
from suite.errors import DataError
from suite.spec import BootstrapSpec, SliceSpec

N = 300


@pytest.fixture()
def setting(tmp_path: Path) -> tuple:
    rng = np.random.default_rng(11)
    features = pd.DataFrame({"age": rng.uniform(20, 60, N), "x": rng.normal(size=N)})
    prod = rng.dirichlet([2, 2, 2], N)
    labels = rng.integers(0, 3, N)
    path = write_sample_log(tmp_path / "log.parquet", features, prod, labels=labels, interval_s=45, seed=2)
    flipped = np.zeros(N, bool)
    flipped[rng.choice(N, 37, replace=False)] = True
    cand = prod.copy()
    top = prod.argmax(axis=1)
    # move the winning class to the next class on flipped rows: the candidate's argmax changes exactly there
    cand[flipped] = np.roll(prod[flipped], 1, axis=1)
    assert np.array_equal(cand.argmax(axis=1) != top, flipped)
    schema = LogSchema(features=("age", "x"), classes=(0, 1, 2))
    return read_request_log(path, schema), features, prod, cand, labels, flipped


def test_exact_agreement_flip_and_per_slice_rates(setting: tuple) -> None:
    log, features, prod, cand, labels, flipped = setting
    latency = np.full(N, 2.0)
    report = replay_compare(log, cand, latency, task="classification", slices=[SliceSpec(column="age", bins=[20, 40, 60])])
    assert report.value("agreement_rate") == (N - 37) / N
    assert report.value("flip_rate") == pytest.approx(37 / N)
    top = prod.argmax(axis=1)
    for k in range(3):
        assert report.value("flip_rate", f"production_class={k}") == pytest.approx(flipped[top == k].mean())
    young = features["age"].to_numpy() < 40
    assert report.value("flip_rate", "age=[20,40)") == pytest.approx(flipped[young].mean())
    assert report.value("flip_rate", "age=[40,60)") == pytest.approx(flipped[~young].mean())
    assert report.value("latency_p50_candidate") == 2.0
    assert report.value("latency_p99_production") == pytest.approx(np.percentile(log.frame["latency_ms"], 99))
    rows = np.arange(N)
    assert report.value("score_delta_mean") == pytest.approx(np.mean(cand[rows, top] - prod[rows, top]))


def test_labelled_comparison_and_mcnemar(setting: tuple) -> None:
    log, _, prod, cand, labels, _ = setting
    report = replay_compare(log, cand, np.ones(N), task="classification", bootstrap=BootstrapSpec(resamples=300))
    prod_ok, cand_ok = prod.argmax(1) == labels, cand.argmax(1) == labels
    assert report.value("accuracy_production") == pytest.approx(prod_ok.mean())
    assert report.value("accuracy_candidate") == pytest.approx(cand_ok.mean())
    assert report.value("accuracy_diff") == pytest.approx(cand_ok.mean() - prod_ok.mean())
    b, c = int(np.sum(cand_ok & ~prod_ok)), int(np.sum(~cand_ok & prod_ok))
    assert report.value("mcnemar_p_value") == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)
    row = report.metrics[report.metrics["metric"] == "accuracy_diff"].iloc[0]
    assert row.ci_low <= row.value <= row.ci_high and row.n == N


def test_hourly_windows_as_long_time_series(setting: tuple) -> None:
    log, _, _, cand, _, flipped = setting
    report = replay_compare(log, cand, np.ones(N), task="classification", window="hour")
    assert list(report.windows.columns) == ["window_start", "metric", "value", "ci_low", "ci_high", "n"]
    hour = (np.arange(N) * 45) // 3600  # sample rows are 45 s apart from midnight
    agreement = report.windows[report.windows["metric"] == "agreement_rate"].reset_index(drop=True)
    assert agreement["n"].tolist() == np.bincount(hour).tolist()
    expected = [1 - flipped[hour == h].mean() for h in range(hour.max() + 1)]
    np.testing.assert_allclose(agreement["value"], expected)
    assert agreement["window_start"].tolist() == [pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(hours=h) for h in range(hour.max() + 1)]


def test_regression_with_tolerance_and_mae(tmp_path: Path) -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    prod = np.array([1.1, 2.5, 3.0, 3.0])
    cand = np.array([1.15, 2.0, 3.0, 4.0])
    path = write_sample_log(tmp_path / "reg.jsonl", pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]}), prod, labels=y, features_as="json")
    report = replay_compare(read_request_log(path, LogSchema(features=("x",), task="regression")), cand, np.ones(4), task="regression", tolerance=0.1)
    assert report.value("agreement_rate") == 0.5  # rows 0 and 2 within 0.1
    assert report.value("mae_production") == pytest.approx(np.mean(np.abs(prod - y)))
    assert report.value("mae_candidate") == pytest.approx(np.mean(np.abs(cand - y)))
    assert report.value("score_spearman") == pytest.approx(stats.spearmanr(prod, cand).statistic)


def test_misaligned_candidate_outputs_are_refused(setting: tuple) -> None:
    log, *_ = setting
    with pytest.raises(DataError, match=f"expected {N} candidate outputs"):
        replay_compare(log, np.zeros((N - 1, 3)), np.ones(N), task="classification")
    with pytest.raises(DataError, match="window"):
        replay_compare(log, np.zeros((N, 3)), np.ones(N), task="classification", window="week")  # type: ignore[arg-type]


def test_sample_log_is_deterministic() -> None:
    features = pd.DataFrame({"x": np.arange(5.0)})
    outputs = np.tile([0.3, 0.7], (5, 1))
    a, b = build_request_log(features, outputs, seed=9), build_request_log(features, outputs, seed=9)
    pd.testing.assert_frame_equal(a, b)
    assert not build_request_log(features, outputs, seed=10)["latency_ms"].equals(a["latency_ms"])
