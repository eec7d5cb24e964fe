"""The parent flow run's log tells the run's story: its size, each stage's progress and result, and the verdict."""

from __future__ import annotations

import logging

import pytest

import flows.progress
from evaluators.gates import GateOutcome
from flows.progress import FlowLog
from pipeline.evaluate.decide import Decision
from pipeline.evaluate.plan import RunPlan
from tests.flows.test_publish_markdown import DECISION


def test_stages_counts_and_verdict_reach_the_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(flows.progress, "get_run_logger", lambda: logging.getLogger("vigil-flow-test"))
    plan = RunPlan.model_construct(run_id="digits-1", suite_name="digits", trigger="manual", models=[1, 2], datasets=[1],
                                   variants=["clean", "noise:1"])
    monkeypatch.setattr(RunPlan, "work_items", lambda self: list(range(4)))
    caplog.set_level(logging.INFO, logger="vigil-flow-test")
    log = FlowLog()
    log.planned(plan)
    for done in range(1, 41):
        log.update("infer", done, 40, f"cnn · item {done}")
    log.stage("drift", "3 of 16 columns drifted")
    log.decided(DECISION)
    failing = Decision(verdict="fail", outcomes=[GateOutcome("macro_f1 ≥ 0.99", "cnn", "all", "fail", 0.98, 0.99)])
    log.decided(failing)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "run digits-1 of suite digits (trigger manual): 2 models × 1 datasets × 2 variants = 4 inference items"
    progress = [line for line in lines if line.startswith("infer:")]
    assert 4 <= len(progress) <= 5 and progress[-1] == "infer: 40/40 done (last: cnn · item 40)"  # quarters, not 40 lines
    assert "drift: 3 of 16 columns drifted" in lines
    assert "verdict PASS (2 pass)" in lines
    assert lines[-1] == "verdict FAIL (1 fail); failed: macro_f1 ≥ 0.99 (cnn)" and caplog.records[-1].levelno == logging.WARNING


def test_a_stage_that_stays_put_says_why_every_half_minute(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(flows.progress, "get_run_logger", lambda: logging.getLogger("vigil-flow-test"))
    now = [100.0]
    caplog.set_level(logging.INFO, logger="vigil-flow-test")
    log = FlowLog()
    log._clock = lambda: now[0]
    for second in range(0, 95, 5):  # 95 s waiting for the cluster at 0 of 4 items: a note every 5 s
        now[0] = 100.0 + second
        log.update("infer", 0, 4, f"cnn: waiting {second} s for 2 of 2 actors")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["infer: 0/4 done (last: cnn: waiting 0 s for 2 of 2 actors)", "infer: 0/4, cnn: waiting 30 s for 2 of 2 actors",
                     "infer: 0/4, cnn: waiting 60 s for 2 of 2 actors", "infer: 0/4, cnn: waiting 90 s for 2 of 2 actors"]
