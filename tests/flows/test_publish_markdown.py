"""The verdict artifact reads well in the Prefect UI: words not emoji, narrow tables, links over HTTP."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from evaluators.gates import GateOutcome
from pipeline.evaluate.decide import Decision
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.summary import headline_table, verdict_markdown
from storage.records import ArtifactRecord
from tests.reports.sample import results

PLAN = RunPlan.model_construct(run_id="digits-nightly-20261126-2", suite_name="digits", suite_hash="ab12cd34ef56aa", trigger="nightly (attempt 2)",
                               started_at=datetime(2026, 11, 26, tzinfo=UTC))
DECISION = Decision(verdict="pass", outcomes=[
    GateOutcome("macro_f1 ≥ 0.9", "cnn", "all", "pass", 0.98, 0.9, reason="CI [0.97, 0.99] within bound"),
    GateOutcome("image_gaussian_noise: macro_f1 holds (drop ≤ 0.05) below severity 2", "cnn", "all", "pass", 4.0, 2.0,
                reason="first breaks at severity 4", variant="image_gaussian_noise"),
])
REPORT = ArtifactRecord(kind="report", uri="file:///v/runs/digits-nightly-20261126-2/report.html", description="report")
DRIFT = ArtifactRecord(kind="drift", uri="file:///v/runs/digits-nightly-20261126-2/drift.html", description="Evidently")


def _tables(markdown: str) -> list[list[str]]:
    return [line.strip("|").split("|") for line in markdown.splitlines() if line.startswith("|") and not line.startswith("|---")]


def test_verdict_is_words_and_tables_are_narrow() -> None:
    text = verdict_markdown(PLAN, DECISION, [REPORT, DRIFT], headline_table(results()))
    assert text.startswith("# Vigil verdict: **PASS** — digits")
    assert not re.search("[\u2600-\u27bf\U0001f300-\U0001faff]", text)  # no emoji: a font without them shows a box
    assert all(len(row) <= 4 for row in _tables(text))  # the Prefect UI clips wider tables on the right
    assert "| **PASS** | macro_f1 ≥ 0.9 | cnn · all | 0.9800 (0.9000) |" in text
    assert "- image_gaussian_noise: macro_f1 holds (drop ≤ 0.05) below severity 2 (cnn · all): first breaks at severity 4" in text
    assert "trigger `nightly (attempt 2)`" in text


def test_links_are_http_when_served_and_paths_otherwise() -> None:
    links = {REPORT.uri: "http://127.0.0.1:4201/runs/digits-nightly-20261126-2/report.html"}
    text = verdict_markdown(PLAN, DECISION, [REPORT, DRIFT], headline_table(results()), links=links)
    assert "[Open the full report](http://127.0.0.1:4201/runs/digits-nightly-20261126-2/report.html)" in text
    assert "file://" not in text
    assert "- drift: `/v/runs/digits-nightly-20261126-2/drift.html`" in text  # not served: shown as a path, not a dead link
    bare = verdict_markdown(PLAN, DECISION, [REPORT], headline_table(results()))
    assert "file://" not in bare and "Report: `/v/runs/digits-nightly-20261126-2/report.html` (run `vigil serve`" in bare


def test_headline_metrics_are_a_model_per_column() -> None:
    text = verdict_markdown(PLAN, DECISION, [], headline_table(results()))
    header = next(row for row in _tables(text) if row[0].strip() == "metric")
    assert [c.strip() for c in header] == ["metric", "mlp-v2", "mlp-v1", "Δ vs baseline"]
