"""`vigil shadow replay` as a real CLI process on a log with one of each odd row: exit 0, no traceback, counts that add up.

Expected agreement comes from the raw lines and the candidate run directly in torch,
not from the log reader or the comparison code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.shadow.test_replay_flow import PIXELS, _candidate_predictions

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits"
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]


def test_cli_replay_reads_each_row_on_its_own(tmp_path: Path, vigil_home: Path) -> None:
    good = [json.loads(line) for line in (DIGITS / "shadow" / "requests.jsonl").read_text().splitlines()[:150]]
    extra = good[0] | {"request_id": "extra", "deployment": "blue"}
    nested = {k: v for k, v in good[1].items() if k not in PIXELS} | {"request_id": "nested", "features": {p: good[1][p] for p in PIXELS}}
    lines = [json.dumps(extra).encode(), *(json.dumps(r).encode() for r in good), json.dumps(nested).encode(),
             json.dumps(good[2] | {"request_id": "bad-class", "prediction": 42, "scores": None}).encode(),
             json.dumps(good[3] | {"request_id": "bad-bytes"}).encode().replace(b"bad-bytes", b"bad-\xff"),
             b"[" * 10_000 + b"]" * 10_000,
             json.dumps(good[4] | {"request_id": "huge", "pad": "x" * (1 << 20)}).encode(),
             b"",
             json.dumps(good[5] | {"request_id": "nan", "pixel_7": float("nan")}).encode()]
    log = tmp_path / "odd.jsonl"
    log.write_bytes(b"\n".join(lines))  # no newline after the last line: it is a row all the same
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(vigil_home)}
    done = subprocess.run([sys.executable, "-m", "cli.main", "shadow", "replay", "--suite", str(DIGITS / "suite.yaml"), "--log", str(log),
                           "--run-id", "x", "--batch-rows", "32", "--json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "replay: started, 152 to do" in done.stderr and "replay: done, 152/152" in done.stderr  # plain lines: stderr is a pipe
    assert "Token authentication is enabled" not in done.stderr  # Ray's notice goes to its log, not every run's console
    shown = json.loads(done.stdout)
    counts = shown["provenance"]["shadow"]
    assert counts["rows_in"] == len(lines) == counts["rows_scored"] + counts["rows_quarantined"]
    assert counts["by_reason"] == {"prediction_not_a_class:42": 1, "not_utf8": 1, "too_deep": 1, "line_too_long": 1,
                                   "empty_line": 1, "missing_field:pixel_7": 1}
    scored = [extra, *good, nested | {p: good[1][p] for p in PIXELS}]
    assert counts["rows_scored"] == len(scored) == 152
    agree = int((_candidate_predictions(scored) == np.array([r["prediction"] for r in scored])).sum())
    overall = {r["metric"]: r for r in shown["results"] if r["variant"] == "shadow" and r["slice"] == "all"}
    assert overall["agreement_rate"]["n"] == 152
    assert overall["agreement_rate"]["value"] == pytest.approx(agree / 152, abs=1e-9)
