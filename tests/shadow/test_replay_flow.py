"""`vigil shadow replay` end to end on the digits example's log: real Prefect, real local Ray, real SQLite.

The expected agreement, accuracy and quarantine counts are computed here from
the raw JSONL and the candidate run directly in torch, independently of the
request-log reader, the Ray pool and the comparison code.
"""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from storage.store import ResultStore
from suite.settings import load_settings

pytestmark = pytest.mark.usefixtures("prefect_server")
DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"
PIXELS = [f"pixel_{i}" for i in range(64)]


def _independent_reading(log: Path) -> tuple[list[dict], Counter]:
    """Valid rows and quarantine reasons of the example log, by the rules its generator documents."""
    valid, reasons, seen = [], Counter(), set()
    for line in log.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            reasons["unparseable_json"] += 1
            continue
        if "latency_ms" not in row:
            reasons["missing_field:latency_ms"] += 1
        elif bad := [p for p in PIXELS if not isinstance(row[p], (int, float))]:
            reasons[f"wrong_type:{bad[0]}"] += 1
        elif not math.isfinite(row["latency_ms"]):
            reasons["non_finite:latency_ms"] += 1
        elif row["request_id"] in seen:
            reasons["duplicate_request_id"] += 1
        else:
            seen.add(row["request_id"])
            valid.append(row)
    return valid, reasons


def _candidate_predictions(rows: list[dict]) -> np.ndarray:
    spec = importlib.util.spec_from_file_location("digits_model", DIGITS / "model.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    net = module.DigitsCNN()
    net.load_state_dict(torch.load(DIGITS / "checkpoints" / "candidate.pt", map_location="cpu"))
    net.eval()
    x = torch.tensor([[row[p] for p in PIXELS] for row in rows], dtype=torch.float32)
    with torch.inference_mode():
        return net(x).argmax(dim=1).numpy()


def _invoke(*args: str) -> dict | list:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_replay_records_exact_agreement_quarantine_and_windows(vigil_home: Path) -> None:
    log, labels = DIGITS / "shadow" / "requests.jsonl", DIGITS / "shadow" / "labels.jsonl"
    valid, reasons = _independent_reading(log)
    candidate = _candidate_predictions(valid)
    production = np.array([row["prediction"] for row in valid])
    truth = {r["request_id"]: r["label"] for r in map(json.loads, labels.read_text().splitlines())}
    labelled = np.array([row["request_id"] in truth for row in valid])
    y = np.array([truth.get(row["request_id"], -1) for row in valid])

    shown = _invoke("shadow", "replay", "--log", str(log), "--labels", str(labels), "--suite", str(DIGITS / "suite.yaml"),
                    "--window", "hour", "--run-id", "digits-shadow", "--json")
    assert shown["run_id"] == "digits-shadow" and shown["trigger"] == "shadow-replay" and shown["status"] == "completed"
    counts = shown["provenance"]["shadow"]
    assert counts["rows_in"] == len(log.read_text().splitlines()) == len(valid) + sum(reasons.values())
    assert (counts["rows_scored"], counts["rows_quarantined"]) == (len(valid), sum(reasons.values()))
    assert counts["by_reason"] == dict(reasons) and sum(reasons.values()) == 5
    quarantine = pd.read_parquet(counts["quarantine_path"])
    assert Counter(quarantine["reason"]) == reasons
    assert any(a["kind"] == "quarantine" and a["uri"].endswith("quarantine.parquet") for a in shown["artifacts"])

    results = pd.DataFrame(shown["results"])
    overall = results[(results.variant == "shadow") & (results.slice == "all")].set_index("metric")
    agree = int((candidate == production).sum())
    assert 0 < agree < len(valid)  # the example has real disagreements
    assert overall.loc["agreement_rate", "value"] == pytest.approx(agree / len(valid), abs=1e-9)  # JSON keeps 10 digits
    stored = ResultStore(load_settings()).run_results("digits-shadow")
    exact = stored[(stored.variant == "shadow") & (stored.slice == "all") & (stored.metric == "agreement_rate")]["value"]
    assert exact.tolist() == [agree / len(valid)]  # exact in the store
    assert overall.loc["flip_rate", "value"] == pytest.approx(1 - agree / len(valid))
    assert overall.loc["accuracy_candidate", "value"] == pytest.approx((candidate == y)[labelled].mean())
    assert overall.loc["accuracy_production", "value"] == pytest.approx((production == y)[labelled].mean())
    assert overall.loc["accuracy_candidate", "n"] == labelled.sum()
    for metric in ("latency_p50_candidate", "latency_p99_candidate", "latency_p99_production", "score_spearman"):
        assert np.isfinite(overall.loc[metric, "value"])
    assert overall.loc["latency_p99_production", "value"] == pytest.approx(np.percentile([r["latency_ms"] for r in valid], 99))
    assert (results.model == "cnn").all() and (results.role == "candidate").all()

    hours = pd.to_datetime([row["timestamp"] for row in valid], utc=True).floor("h")
    windows = results[(results.variant == "shadow@hour") & (results.metric == "agreement_rate")]
    assert len(windows) == hours.nunique() > 1
    assert windows["n"].sum() == len(valid)

    history = _invoke("history", "--suite", "digits", "--metric", "agreement_rate", "--variant", "shadow@hour", "--json")
    assert [h["n"] for h in history] == hours.value_counts().sort_index().tolist()
    assert [h["dataset"] for h in history] == [f"requests@{h.isoformat()}" for h in sorted(set(hours))]
    whole = _invoke("history", "--suite", "digits", "--metric", "flip_rate", "--variant", "shadow", "--json")
    assert [h["value"] for h in whole] == [overall.loc["flip_rate", "value"]]
