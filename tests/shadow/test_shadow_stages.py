"""The replay stages that need neither Prefect nor Ray: checks before inference, result naming, the summary."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluators.shadow import replay_compare
from pipeline.shadow.replay import prepare_replay, replay_markdown, results_rows
from pipeline.shadow.online import load_online_candidate, request_features
from pipeline.shadow.log import read_request_log
from pipeline.shadow.replay import candidate_context
from pipeline.shadow.log import replay_schema
from suite.errors import ChecksumError, DataError
from suite.load import load_suite
from suite.settings import load_settings

CANCER = Path(__file__).resolve().parents[2] / "examples" / "breast_cancer"


def test_request_features_by_name_or_position() -> None:
    assert request_features({"features": {"b": 2.0, "a": 1.0, "extra": 9}}, ["a", "b"]) == [1.0, 2.0]
    assert request_features({"features": [1.0, 2.0]}, ["a", "b"]) == [1.0, 2.0]
    with pytest.raises(DataError, match="expected keys"):
        request_features({"features": {"a": 1.0}}, ["a", "b"])
    with pytest.raises(DataError, match="a list of 3"):
        request_features({"features": [1, 2, 3]}, ["a", "b"])


def cancer_schema():  # type: ignore[no-untyped-def]
    suite = load_suite(CANCER / "suite.yaml")
    _, features, classes = candidate_context(suite)
    return replay_schema(suite, features, classes)


def test_online_candidate_matches_the_batch_predictor() -> None:
    suite = load_suite(CANCER / "suite.yaml")
    online = load_online_candidate(suite)
    frame = read_request_log(CANCER / "shadow" / "requests.parquet", cancer_schema(), write_quarantine=False).frame.head(5)
    batch = online.predictor(frame[online.features].to_numpy(np.float32))
    for i, row in enumerate(frame[online.features].to_dict("records")):
        answer = online({"features": row})
        assert answer["prediction"] == int(batch[i].argmax())
        assert answer["scores"] == pytest.approx(batch[i].tolist(), abs=1e-6)


def test_prepare_refuses_a_tampered_candidate_and_a_log_without_its_features(tmp_path: Path, vigil_home: Path) -> None:
    copy = tmp_path / "cancer"
    shutil.copytree(CANCER, copy)
    log = copy / "shadow" / "requests.parquet"
    narrow = tmp_path / "narrow.parquet"
    pd.read_parquet(log).drop(columns=["worst_area"]).to_parquet(narrow)
    with pytest.raises(DataError, match="worst_area"):
        prepare_replay(copy / "suite.yaml", narrow, load_settings())
    assert not list((vigil_home / "staging").glob("*"))  # nothing half-made is left behind
    checkpoint = copy / "checkpoints" / "boosting.skops"
    checkpoint.write_bytes(checkpoint.read_bytes() + b"x")
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        prepare_replay(copy / "suite.yaml", log, load_settings())


def test_results_rows_name_windows_and_the_summary_leads_with_agreement(tmp_path: Path, vigil_home: Path) -> None:
    plan = prepare_replay(CANCER / "suite.yaml", CANCER / "shadow" / "requests.parquet", load_settings(), window="day")
    log = read_request_log(CANCER / "shadow" / "requests.parquet", cancer_schema(), write_quarantine=False)
    scores = np.asarray(log.frame["scores"].tolist())
    flipped = scores[:, ::-1]  # the candidate disagrees everywhere except on ties
    report = replay_compare(log, flipped, np.ones(len(scores)), task="classification", window="day")
    rows = results_rows(plan, report)
    days = sorted(set(log.frame["timestamp"].dt.floor("D")))
    windows = rows[rows.variant == "shadow@day"]
    assert sorted(set(windows.dataset)) == [f"requests@{d.isoformat()}" for d in days]
    assert (windows.slice == "all").all() and (rows.model == "boosting").all()
    assert rows.duplicated(["dataset", "variant", "slice", "metric"]).sum() == 0  # one row per result key
    with_ci = rows[rows.ci_low.notna()]
    assert set(with_ci.ci_method) >= {"wilson"} and with_ci.ci_method.notna().all()  # each interval says how it was made
    assert rows[rows.ci_low.isna()].ci_method.isna().all()
    text = replay_markdown(plan, rows)
    first = text.splitlines()[2]
    assert first.startswith("**Agreement") and "flip rate" in first
    agree = (scores.argmax(1) == flipped.argmax(1)).mean()
    assert f"{agree:.4f}" in first


def test_logged_candidate_answers_are_used_and_unanswered_rows_quarantined(tmp_path: Path, vigil_home: Path) -> None:
    from pipeline.shadow.replay import logged_candidate

    log = pd.read_parquet(CANCER / "shadow" / "requests.parquet").head(40)
    rng = np.random.default_rng(0)
    answers = rng.dirichlet([1.0, 1.0], size=len(log))
    logged = [list(a) for a in answers]
    logged[5], logged[7] = None, [np.nan, 1.0]  # no answer; a non-finite one
    log = log.assign(candidate_scores=logged, candidate_latency_ms=np.arange(len(log), dtype=float), candidate_status="ok")
    log.loc[3, "candidate_status"] = "timeout"
    path = tmp_path / "mirrored.parquet"
    log.to_parquet(path)
    plan = prepare_replay(CANCER / "suite.yaml", path, load_settings(), from_mirror=True)
    assert plan.counts["rows_in"] == 40 and plan.counts["rows_scored"] == 37 and plan.counts["rows_quarantined"] == 3
    assert plan.counts["by_reason"] == {"no_candidate_answer:empty": 2, "no_candidate_answer:timeout": 1}
    staged = pd.read_parquet(logged_candidate(plan))
    kept = [i for i in range(40) if i not in (3, 5, 7)]
    assert np.allclose(staged[["score_0", "score_1"]].to_numpy(), answers[kept])
    assert staged["latency_ms"].tolist() == [float(i) for i in kept]
    quarantined = pd.read_parquet(plan.staged("quarantine.parquet"))
    assert quarantined["row_number"].tolist() == [3, 5, 7]

    # a log without the mirror's columns: no row has a candidate answer, each says so
    with pytest.raises(DataError, match=r"requests\.parquet: expected valid rows, got none .*'no_candidate_answer:missing': 570"):
        prepare_replay(CANCER / "suite.yaml", CANCER / "shadow" / "requests.parquet", load_settings(), from_mirror=True)
