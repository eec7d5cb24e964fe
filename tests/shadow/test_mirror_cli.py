"""`vigil shadow mirror` as a subprocess on loopback in front of a production stub, stopped by SIGTERM, then replayed.

Production's answers come from the stub's own rule and the candidate's from
the breast-cancer boosting model loaded here with the plain Predictor, so the
expected agreement is computed without the mirror, the log reader or the
comparison code.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from mirror.server import ThreadedServer
from storage.datasets import DATASET_LOADERS
from suite.load import load_suite
from suite.processes import free_port
from tests.mirror.stub import production_answer, production_app
from workers.predictor import Predictor

pytestmark = pytest.mark.slow  # `vigil shadow mirror` and `vigil shadow replay` in subprocesses

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "examples" / "breast_cancer" / "suite.yaml"
N = 40


@pytest.fixture()
def production() -> Iterator[ThreadedServer]:
    server = ThreadedServer(production_app()).start()
    yield server
    server.stop()


def _requests() -> list[dict]:
    frame = DATASET_LOADERS.get("sklearn.breast_cancer")("test").head(N)
    features = frame.drop(columns=["sample_id", "label"])
    x = np.random.default_rng(3).normal(0, 2, N)  # the stub's production decides on x alone
    return [{"features": {**{k: float(v) for k, v in row.items()}, "x": float(xi)}} for row, xi in zip(features.to_dict("records"), x)]


def _wait_until_serving(url: str, process: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mirror exited early: {process.stderr.read() if process.stderr else ''}")
        try:
            if httpx.get(f"{url}/_vigil/stats", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("mirror did not start")


def test_mirror_subprocess_logs_both_answers_and_replays(production: ThreadedServer, vigil_home: Path, tmp_path: Path,
                                                        session_services: dict[str, str]) -> None:
    port, log_dir = free_port(), tmp_path / "mirror-log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(vigil_home)}
    command = [sys.executable, "-m", "cli.main", "shadow", "mirror", "--production", production.url, "--suite", str(SUITE),
               "--listen", f"127.0.0.1:{port}", "--log-dir", str(log_dir), "--timeout-s", "10"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url, process)
        bodies = _requests()
        with httpx.Client(base_url=url, timeout=10) as client:
            answers = [client.post("/predict", json=body, headers={"x-request-id": f"r{i}"}).json() for i, body in enumerate(bodies)]
            deadline = time.monotonic() + 30
            while (stats := client.get("/_vigil/stats").json())["shadow_completed"] + stats["dropped"] < N and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert answers == [production_answer(b["features"]) for b in bodies]  # callers get production's answers

    suite = load_suite(SUITE)
    candidate = Predictor(suite.candidates[0], suite.base_dir, task="classification", num_classes=2)
    names = list(DATASET_LOADERS.get("sklearn.breast_cancer")("test").drop(columns=["sample_id", "label"]).columns)
    scores = candidate(np.array([[b["features"][n] for n in names] for b in bodies], np.float32))
    agree = int((scores.argmax(axis=1) == np.array([a["prediction"] for a in answers])).sum())
    assert 0 < agree < N

    logged = pd.concat([pd.read_parquet(p) for p in sorted(log_dir.glob("*.parquet"))], ignore_index=True).set_index("request_id")
    assert sorted(logged.index) == sorted(f"r{i}" for i in range(N))
    assert (logged["candidate_status"] == "ok").all()
    assert np.allclose(np.stack(logged.loc[[f"r{i}" for i in range(N)], "candidate_scores"]), scores, atol=1e-6)

    result = CliRunner().invoke(app, ["shadow", "replay", "--log", str(log_dir), "--suite", str(SUITE), "--run-id", "mirrored", "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    shown = json.loads(result.stdout)
    assert {k: shown["provenance"]["shadow"][k] for k in ("rows_in", "rows_scored", "rows_quarantined")} == {"rows_in": N, "rows_scored": N, "rows_quarantined": 0}
    overall = {r["metric"]: r["value"] for r in shown["results"] if r["variant"] == "shadow" and r["slice"] == "all"}
    assert overall["agreement_rate"] == pytest.approx(agree / N, abs=1e-9)

    # The same log, using the answers the mirror logged instead of re-scoring: same agreement, the live latencies.
    # (a real CLI process: Prefect's console handler keeps the first CliRunner's closed stdout)
    done = subprocess.run([sys.executable, "-m", "cli.main", "shadow", "replay", "--log", str(log_dir), "--suite", str(SUITE), "--run-id", "mirrored-live",
                           "--from-mirror", "--json"], env={**env, **session_services}, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    live = json.loads(done.stdout)
    assert live["provenance"]["shadow"]["candidate_source"] == "mirror"
    values = {r["metric"]: r["value"] for r in live["results"] if r["variant"] == "shadow" and r["slice"] == "all"}
    assert values["agreement_rate"] == pytest.approx(agree / N, abs=1e-9)
    assert values["latency_p50_candidate"] == pytest.approx(float(np.percentile(logged["candidate_latency_ms"], 50)), rel=1e-6)


def test_sensitive_fields_need_a_salt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIL_MIRROR_SALT", raising=False)
    result = CliRunner().invoke(app, ["shadow", "mirror", "--production", "http://127.0.0.1:9", "--suite", str(SUITE), "--sensitive", "email"])
    assert result.exit_code == 2
    assert "VIGIL_MIRROR_SALT" in result.output
