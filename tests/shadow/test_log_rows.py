"""Users' findings on shadow logs, each as a test: rows are read one by one, so one odd row never spoils the others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.shadow_stream import measure
from evaluators.shadow import replay_compare
from pipeline.shadow.log import read_request_log
from evaluators.shadow.request_log.rows import LogSchema
from pipeline.shadow.replay import prepare_replay
from suite.settings import load_settings

CANCER = Path(__file__).resolve().parents[2] / "examples" / "breast_cancer"
SCHEMA = LogSchema(features=("x", "y"), classes=(0, 1, 2))
N = 150


def good_rows(n: int = N, seed: int = 4) -> tuple[list[dict], np.ndarray]:
    """``n`` valid flat rows and production's scores for them."""
    rng = np.random.default_rng(seed)
    scores = rng.dirichlet([1, 1, 1], n)
    rows = [
        {"request_id": f"r{i}", "timestamp": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z", "x": float(rng.normal()), "y": float(rng.normal()),
         "prediction": int(scores[i].argmax()), "scores": scores[i].tolist(), "latency_ms": 2.0}
        for i in range(n)
    ]
    return rows, scores


def write(path: Path, rows: list[dict | bytes]) -> Path:
    path.write_bytes(b"\n".join(r if isinstance(r, bytes) else json.dumps(r).encode() for r in rows) + b"\n")
    return path


@pytest.mark.parametrize("where", [0, 75, N])
def test_one_row_with_an_extra_key_changes_nothing_for_the_others(tmp_path: Path, where: int) -> None:
    rows, scores = good_rows()
    odd = {**rows[where % N], "request_id": "odd", "user_agent": "curl/8"}
    log = read_request_log(write(tmp_path / "log.jsonl", [*rows[:where], odd, *rows[where:]]), SCHEMA)
    assert (log.counts.rows_in, log.counts.rows_scored, log.counts.rows_quarantined) == (N + 1, N + 1, 0)  # extra keys are ignored
    assert "user_agent" not in log.frame
    candidate = np.insert(np.roll(scores, 1, axis=1), where, np.roll(scores[where % N], 1), axis=0)  # disagrees everywhere...
    candidate[::3] = np.insert(scores, where, scores[where % N], axis=0)[::3]  # ...except on every third row
    report = replay_compare(log, candidate, np.ones(N + 1), task="classification")
    agree = (candidate.argmax(1) == np.insert(scores, where, scores[where % N], axis=0).argmax(1)).mean()
    assert report.value("agreement_rate") == pytest.approx(agree)
    assert report.metrics.set_index(["metric", "slice"]).loc[("agreement_rate", "all"), "n"] == N + 1


def test_rows_in_the_features_form_and_flat_rows_are_both_read(tmp_path: Path) -> None:
    rows, _ = good_rows(6)
    as_object = {k: v for k, v in rows[1].items() if k not in ("x", "y")} | {"features": {"y": rows[1]["y"], "x": rows[1]["x"]}}
    as_list = {k: v for k, v in rows[2].items() if k not in ("x", "y")} | {"features": [rows[2]["x"], rows[2]["y"]]}
    as_text = {k: v for k, v in rows[3].items() if k not in ("x", "y")} | {"features": json.dumps({"x": rows[3]["x"], "y": rows[3]["y"]})}
    log = read_request_log(write(tmp_path / "log.jsonl", [as_object, rows[0], as_list, as_text, rows[4], rows[5]]), SCHEMA)
    assert log.counts.rows_scored == 6 and log.counts.rows_quarantined == 0
    by_id = log.frame.set_index("request_id")
    for row in rows:
        assert (by_id.loc[row["request_id"], "x"], by_id.loc[row["request_id"], "y"]) == (row["x"], row["y"])


def test_a_prediction_outside_the_classes_is_quarantined_not_a_crash(tmp_path: Path) -> None:
    rows, scores = good_rows(20)
    rows[4] = rows[4] | {"prediction": 7}
    rows[9] = rows[9] | {"prediction": -1, "scores": None}
    log = read_request_log(write(tmp_path / "log.jsonl", rows), SCHEMA)
    assert log.counts.by_reason == {"prediction_not_a_class:7": 1, "prediction_not_a_class:-1": 1}
    keep = [i for i in range(20) if i not in (4, 9)]
    report = replay_compare(log, scores[keep], np.ones(18), task="classification")
    assert report.value("agreement_rate") == 1.0 and report.value("flip_rate", "production_class=0") == 0.0


def test_a_non_utf8_byte_quarantines_only_its_line(tmp_path: Path) -> None:
    rows, _ = good_rows(5)
    broken = json.dumps(rows[2]).encode().replace(b'"r2"', b'"r\xff2"')
    log = read_request_log(write(tmp_path / "log.jsonl", [rows[0], rows[1], broken, rows[3], rows[4]]), SCHEMA)
    assert log.counts.by_reason == {"not_utf8": 1}
    assert log.frame["request_id"].tolist() == ["r0", "r1", "r3", "r4"]
    assert log.quarantined["raw"].iloc[0].startswith('{"request_id": "r\\xff2"')


def test_prepare_stages_every_valid_row_of_a_mixed_log(tmp_path: Path, vigil_home: Path) -> None:
    frame = pd.read_parquet(CANCER / "shadow" / "requests.parquet").head(151)
    frame["timestamp"] = frame["timestamp"].map(lambda t: t.isoformat())
    rows = [{k: (list(v) if isinstance(v, np.ndarray) else v) for k, v in r.items()} for r in frame.to_dict("records")]
    features = [c for c in frame.columns if c not in ("request_id", "timestamp", "prediction", "scores", "latency_ms")]
    rows[0] = rows[0] | {"deployment": "blue"}  # an extra key in the first row once made every other row fail
    rows[1] = {k: v for k, v in rows[1].items() if k not in features} | {"features": {f: rows[1][f] for f in features}}
    plan = prepare_replay(CANCER / "suite.yaml", write(tmp_path / "mixed.jsonl", rows), load_settings())
    assert plan.counts == {"rows_in": 151, "rows_scored": 151, "rows_quarantined": 0, "by_reason": {}}
    staged = pd.read_parquet(plan.staged("log.parquet"))
    assert staged["request_id"].tolist() == frame["request_id"].tolist()
    np.testing.assert_allclose(staged[features].to_numpy(), frame[features].to_numpy())


@pytest.mark.slow
def test_staging_memory_follows_the_chunk_not_the_log() -> None:
    # Two logs, one four times the other; what staging holds beyond a chunk is the set of request ids seen
    # (about 100 bytes a row), so the peak grows by a small fraction of the extra log, not by the log.
    small, large = measure(10_000, 64, 1_000), measure(40_000, 64, 1_000)
    assert large["rows_in"] == 40_000 and large["rows_scored"] + large["rows_quarantined"] == 40_000
    extra_log_mb = large["log_mb"] - small["log_mb"]
    assert large["peak_rss_growth_mb"] - small["peak_rss_growth_mb"] < 0.35 * extra_log_mb, (small, large)
