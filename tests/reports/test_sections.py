"""The report's sections say what the data means: only regressions under "got worse", drift as a chart, and so on."""

from __future__ import annotations

import base64
import gzip
import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.offline

from evaluators.gates import GateOutcome, outcomes_frame
from reports import render_report
from reports.plotly_bundle import packed_library
from tests.reports.sample import report_data


def _section(page: str, key: str) -> str:
    match = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    return match.group(1) if match else ""


def _figure(page: str, name: str) -> dict:
    match = re.search(rf'<script type="application/json" data-figure="chart-{name}">(.*?)</script>', page, re.S)
    assert match, f"no figure chart-{name}"
    return json.loads(match.group(1))


def _regions(diffs: list[float]) -> pd.DataFrame:
    n = len(diffs)
    z = [d * 20 for d in diffs]
    return pd.DataFrame(dict(family="label", region=[str(i) for i in range(n)], n=50, cand_error=[0.1 + d for d in diffs],
                             base_error=0.1, diff=diffs, newly_wrong=[max(int(d * 100), 0) for d in diffs],
                             newly_right=[max(int(-d * 100), 0) for d in diffs], z=z, p_value=[0.01 if d > 0 else 1.0 for d in diffs]))


def test_got_worse_lists_only_regions_where_the_candidate_is_worse() -> None:
    page = render_report(report_data(worst_regions=_regions([0.04, -0.02, 0.01, -0.05])))
    errors = _section(page, "errors")
    rows = re.findall(r"<tr><td class=''>label</td><td class=''>(\d)</td>", errors)
    assert rows == ["0", "2"]  # the two regressions, most significant first; the two improvements left out
    assert "2 of 4 slices and feature ranges" in errors


def test_got_worse_says_so_when_no_region_got_worse() -> None:
    page = render_report(report_data(worst_regions=_regions([-0.01, -0.03]), newly_wrong=None))
    errors = _section(page, "errors")
    assert "No region got worse" in errors and "<table>" not in errors
    assert "None: the candidate gets right every example the baseline gets right." in errors


def _drift_table(windows: int = 1) -> pd.DataFrame:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for w in range(windows):
        for i in range(16):
            effect = 0.02 + 0.01 * i + 0.05 * w
            rows.append(dict(run_id="digits-20261126T061200-0123456789ab", suite="digits", dataset="digits-stream",
                             window_start=start + timedelta(days=w) if windows > 1 else None,
                             window_end=start + timedelta(days=w + 1) if windows > 1 else None, kind="data", model=None,
                             column=f"pixel_{i}", score=0.001 if effect >= 0.1 else 0.4, score_kind="p_value", threshold=0.05,
                             drifted=effect >= 0.1, method="ks", method_version="1", n_reference=180, n_current=360,
                             engine="checks", sampled=False, sample_size=None, p_value=0.001, p_adjusted=0.002,
                             effect=effect, effect_name="ks_d", effect_floor=0.1, alpha=0.05, correction="bh",
                             share_drifted=0.5, dataset_drifted=True))
    return pd.DataFrame(rows)


def test_drift_is_a_chart_and_a_compact_table_without_the_run_id_on_every_row() -> None:
    page = render_report(report_data(drift=_drift_table()))
    drift = _section(page, "drift")
    assert 'id="chart-drift"' in drift and 'id="chart-drift-windows"' not in drift
    assert "digits-20261126T061200-0123456789ab" not in drift
    fig = _figure(page, "drift")
    bars = next(t for t in fig["data"] if t["type"] == "bar")
    assert len(bars["x"]) == 16 and bars["marker"]["color"].count("#dc2626") == 8  # drifted columns in red
    assert any(t.get("name") == "floor" for t in fig["data"])  # effect against the policy's floor
    header = re.search(r"<thead>(.*?)</thead>", drift).group(1)
    assert re.findall(r"<th>([^<]+)</th>", header) == ["column", "method", "score", "threshold", "effect", "floor", "drifted"]
    assert "reference rows: 180 · current rows: 360" in drift


def test_drift_with_windows_draws_a_per_window_curve() -> None:
    page = render_report(report_data(drift=_drift_table(windows=3)))
    curve = _figure(page, "drift-windows")
    assert len(curve["data"]) == 1 and len(curve["data"][0]["y"]) == 3
    assert curve["data"][0]["y"][0] < curve["data"][0]["y"][-1]  # more columns drift in later windows
    assert "in the last window (from 2026-03-03" in _section(page, "drift")


def test_history_of_one_run_is_a_sentence_and_longer_history_has_dated_ticks() -> None:
    one = pd.DataFrame([dict(created_at=datetime(2026, 11, 26, 6, 12, tzinfo=UTC), model="cnn", metric="accuracy",
                             value=0.98, ci_low=0.97, ci_high=0.99)])
    page = render_report(report_data(history=one))
    assert 'id="chart-history"' not in page
    assert "One committed run so far (2026-11-26 06:12 UTC)" in _section(page, "history")
    longer = render_report(report_data())
    assert _figure(longer, "history")["layout"]["xaxis"]["tickformat"] == "%Y-%m-%d %H:%M"


def test_provenance_is_a_definition_list_with_raw_json_collapsed() -> None:
    prov = _section(render_report(report_data()), "provenance")
    assert "<dl class='prov'><dt>suite hash</dt><dd><code>ab12</code></dd>" in prov
    assert "<dt>mlp-v2</dt><dd><code>f00d</code></dd>" in prov  # nested mapping as a nested list
    assert "<details><summary>Raw provenance (JSON)</summary><pre>{" in prov


def test_single_class_slices_leave_class_comparing_metrics_out_and_say_why() -> None:
    base = report_data()
    results = base.results.copy()
    extra = results[results["metric"] == "accuracy"].assign(metric="roc_auc")
    extra.loc[extra["slice"] != "all", "value"] = np.nan  # one label per slice: undefined
    page = render_report(report_data(results=pd.concat([results, extra], ignore_index=True),
                                     across_classes=frozenset({"roc_auc"})))
    heat = _figure(page, "slices")["data"][0]
    column = heat["x"].index("roc_auc")
    assert all(row[column] == "" for row, label in zip(heat["text"], heat["y"], strict=True) if "label=" in label)
    assert "5 slices hold a single true class" in _section(page, "slices") and "ROC AUC is undefined" in page


def test_robustness_shows_the_gate_tolerance_beside_the_table_tolerance() -> None:
    robustness = pd.DataFrame([dict(model="mlp-v2", dataset="digits-test", perturbation="gaussian_noise", metric="accuracy",
                                    clean=0.9, worst=0.75, breaking_severity=3.0, relative_robustness=0.9, tolerance=0.02)])
    gate = GateOutcome("gaussian_noise: accuracy holds (drop ≤ 0.05) below severity 2", "mlp-v2", "all", "pass", 4.0, 2.0,
                       dataset="digits-test", variant="gaussian_noise", reason="first breaks at severity 4")
    outcomes = pd.concat([report_data().outcomes, outcomes_frame([gate])], ignore_index=True)
    section = _section(render_report(report_data(robustness=robustness, outcomes=outcomes)), "robustness")
    assert "<th>table tolerance</th>" in section and "<th>breaks at (table tolerance)</th>" in section
    row = re.search(r"<tbody><tr>(.*?)</tr>", section).group(1)
    assert "0.02" in row and "(drop ≤ 0.05)" in row and "first breaks at severity 4" in row


def test_plotly_is_carried_once_compressed_and_matches_the_python_package() -> None:
    page = render_report(report_data())
    assert page.count('id="vigil-plotly"') == 1 and "Plotly.newPlot(" in page and page.count("Plotly.newPlot(") == 1
    library = gzip.decompress(base64.b64decode(packed_library())).decode()
    assert library.startswith("/**\n* plotly.js (cartesian - minified) v")
    assert f"v{plotly.offline.get_plotlyjs_version()}\n" in library[:200]  # the figures' JSON is for this version
    assert len(page.encode()) < 1_500_000
