"""The mirror on loopback against a real production stub, over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pydantic
import pytest

from evaluators.shadow import logged_candidate, replay_compare
from mirror.app import build_app
from mirror.candidate import ShadowRequest, ThreadCandidate
from mirror.config import MirrorConfig
from mirror.hashing import salted_digest
from mirror.server import ThreadedServer
from pipeline.shadow.log import read_request_log as read_log
from evaluators.shadow.request_log.rows import LogSchema
from tests.mirror.stub import production_answer, production_app

pytestmark = pytest.mark.slow
# the stub's requests carry x and an email; the mirror's log keeps the candidate's answers
SCHEMA = LogSchema(features=("x", "email"), classes=(0, 1), string_features=frozenset({"email"}), mirror=True)


def read_request_log(path: Path) -> Any:
    return read_log(path, SCHEMA)


@pytest.fixture(scope="module")
def production() -> Iterator[ThreadedServer]:
    server = ThreadedServer(production_app()).start()
    yield server
    server.stop()


def start_mirror(production: ThreadedServer, log_dir: Path, candidate: Any, **options: Any) -> ThreadedServer:
    config = MirrorConfig(production_url=production.url, log_dir=str(log_dir), port=0, **options)
    return ThreadedServer(build_app(config, candidate)).start()


async def flipping_candidate(request: ShadowRequest) -> Mapping[str, Any]:
    """Agrees with production except when x lies in [1, 2)."""
    answer = production_answer(request.payload["features"])
    x = request.payload["features"]["x"]
    if 1 <= x < 2:
        answer = {"prediction": 1 - answer["prediction"], "scores": answer["scores"][::-1]}
    return answer


def stats(mirror: ThreadedServer) -> dict[str, float]:
    return httpx.get(mirror.url + "/_vigil/stats").json()


def post_predict(client: httpx.Client, base: str, x: float, request_id: str | None = None) -> httpx.Response:
    headers = {"x-request-id": request_id} if request_id else {}
    return client.post(base + "/predict", json={"features": {"x": x, "email": "a@b.c"}}, headers=headers)


def test_answers_are_production_answers_unchanged(production: ThreadedServer, tmp_path: Path) -> None:
    mirror = start_mirror(production, tmp_path / "log", flipping_candidate)
    try:
        with httpx.Client() as client:
            calls = [
                ("POST", "/predict", json.dumps({"features": {"x": 0.7}}).encode()),
                ("POST", "/echo?a=1&b=two", b"\x00\x01 not json"),
                ("POST", "/created", b"{}"),
                ("GET", "/health", b""),
                ("HEAD", "/health", b""),
                ("GET", "/gzip", b""),
                ("GET", "/chunked", b""),
                ("GET", "/missing", b""),
                ("PUT", "/predict", b"{}"),
            ]
            for method, path, body in calls:
                direct = client.request(method, production.url + path, content=body)
                mirrored = client.request(method, mirror.url + path, content=body)
                assert mirrored.status_code == direct.status_code, path
                assert mirrored.content == direct.content, path
                # a chunked answer is returned whole, so its framing header becomes a content-length
                framing = {"date", "transfer-encoding", "content-length"} if path == "/chunked" else {"date"}
                strip = lambda r: [(k, v) for k, v in r.headers.multi_items() if k not in framing]  # noqa: E731
                assert strip(mirrored) == strip(direct), path
            assert mirrored.status_code == 405
            assert len(client.post(mirror.url + "/created", content=b"{}").headers.get_list("set-cookie")) == 2
            whole = client.get(mirror.url + "/chunked")
            assert whole.headers["content-length"] == str(len(b"part 0;part 1;part 2;"))
            assert client.get(mirror.url + "/gzip").text == "compressed answer"  # still gzip on the wire
        assert stats(mirror)["requests"] == 12
    finally:
        mirror.stop()


def test_unreachable_production_is_a_502_and_counted(tmp_path: Path) -> None:
    config = MirrorConfig(production_url="http://127.0.0.1:9", log_dir=str(tmp_path / "log"), port=0)
    mirror = ThreadedServer(build_app(config, flipping_candidate)).start()
    try:
        response = httpx.post(mirror.url + "/predict", json={"features": {"x": 1}})
        assert response.status_code == 502 and "production unreachable" in response.text
        assert stats(mirror)["production_errors"] == 1 and stats(mirror)["shadow_offered"] == 0
    finally:
        mirror.stop()


def test_pooled_connection_closed_by_production_is_replaced(tmp_path: Path) -> None:
    production = ThreadedServer(production_app())
    production.server.config.timeout_keep_alive = 0.2  # production drops idle connections quickly
    production.start()
    mirror = start_mirror(production, tmp_path / "log", None)
    try:
        with httpx.Client() as client:
            for _ in range(3):
                assert post_predict(client, mirror.url, 0.5).status_code == 200
                time.sleep(0.4)  # the mirror's pooled connection to production is closed meanwhile
        assert stats(mirror)["production_errors"] == 0
    finally:
        mirror.stop()
        production.stop()


def test_log_is_replayable_with_exact_agreement(production: ThreadedServer, tmp_path: Path) -> None:
    xs = np.round(np.linspace(-3, 3, 40), 3)
    mirror = start_mirror(production, tmp_path / "log", flipping_candidate, batch_rows=16)
    with httpx.Client() as client:
        for i, x in enumerate(xs):
            assert post_predict(client, mirror.url, float(x), f"r{i:03d}").status_code == 200
        client.get(mirror.url + "/health")  # not shadowed: GET
    mirror.stop()

    log = read_request_log(tmp_path / "log")
    assert log.counts.rows_in == len(xs) and log.counts.rows_quarantined == 0
    frame = log.frame.sort_values("request_id").reset_index(drop=True)
    assert frame["request_id"].tolist() == [f"r{i:03d}" for i in range(len(xs))]
    np.testing.assert_allclose(frame["x"], xs)
    assert frame["prediction"].tolist() == [production_answer({"x": x})["prediction"] for x in xs]
    assert (frame["candidate_status"] == "ok").all()
    assert (frame["latency_ms"] > 0).all() and (frame["candidate_latency_ms"] >= 0).all()

    expected_flips = int(np.sum((xs >= 1) & (xs < 2)))
    assert expected_flips > 0
    answered, outputs, latency = logged_candidate(log)
    assert outputs.shape == (len(xs), 2)
    report = replay_compare(answered, outputs, latency, task="classification")
    assert report.value("agreement_rate") == (len(xs) - expected_flips) / len(xs)


def test_sensitive_fields_are_hashed_in_the_log(production: ThreadedServer, tmp_path: Path) -> None:
    mirror = start_mirror(production, tmp_path / "log", flipping_candidate, sensitive_fields=("email",), salt="pepper")
    with httpx.Client() as client:
        post_predict(client, mirror.url, 0.5)
    mirror.stop()
    log = read_request_log(tmp_path / "log")
    assert log.frame["email"].tolist() == [salted_digest("a@b.c", "pepper")]
    assert not any(b"a@b.c" in part.read_bytes() for part in (tmp_path / "log").glob("*.parquet"))
    with pytest.raises(pydantic.ValidationError, match="salt"):
        MirrorConfig(production_url="http://127.0.0.1:1", log_dir="x", sensitive_fields=("email",))


def latencies(client: httpx.Client, base: str, n: int) -> np.ndarray:
    out = []
    for i in range(n):
        start = time.perf_counter()
        assert post_predict(client, base, i / n).status_code == 200
        out.append(time.perf_counter() - start)
    return np.asarray(out) * 1000


def test_slow_candidate_is_dropped_and_production_unaffected(production: ThreadedServer, tmp_path: Path) -> None:
    async def slow(request: ShadowRequest) -> Mapping[str, Any]:
        await asyncio.sleep(1.0)
        return production_answer(request.payload["features"])

    mirror = start_mirror(production, tmp_path / "log", slow, queue_size=2, candidate_concurrency=1, candidate_timeout_s=0.3)
    try:
        with httpx.Client() as client:
            latencies(client, production.url, 5)  # warm both paths
            latencies(client, mirror.url, 5)
            direct = latencies(client, production.url, 60)
            mirrored = latencies(client, mirror.url, 60)
        time.sleep(0.4)  # past one candidate timeout
        counters = stats(mirror)
    finally:
        mirror.stop()
    # a request that waited on the candidate would take >= 300 ms (its timeout); production answers take ~1 ms
    assert np.median(mirrored) < np.median(direct) + 50
    assert np.percentile(mirrored, 90) < 200
    assert counters["shadow_offered"] == 65 and counters["shadow_completed"] == 0
    assert counters["dropped_timeout"] > 0 and counters["dropped_queue_full"] > 0
    log = read_request_log(tmp_path / "log")
    assert log.counts.rows_in == 65
    statuses = log.frame["candidate_status"].value_counts().to_dict()
    assert statuses["dropped_queue_full"] == counters["dropped_queue_full"]  # no requests after the snapshot
    assert statuses["dropped_timeout"] >= counters["dropped_timeout"]  # the drain may time out more
    assert sum(statuses.values()) == 65 and "ok" not in statuses


def test_blocking_and_failing_candidates_are_counted(production: ThreadedServer, tmp_path: Path) -> None:
    def blocking(payload: Any) -> Mapping[str, Any]:
        time.sleep(0.3)
        return production_answer(payload["features"])

    mirror = start_mirror(production, tmp_path / "a", ThreadCandidate(blocking, max_in_flight=1), candidate_timeout_s=0.02, candidate_concurrency=2)
    with httpx.Client() as client:
        latencies(client, mirror.url, 20)
    counters = stats(mirror)
    mirror.stop()
    assert counters["dropped_busy"] > 0 and counters["dropped_timeout"] > 0

    async def failing(request: ShadowRequest) -> Mapping[str, Any]:
        raise RuntimeError("candidate crashed")

    mirror = start_mirror(production, tmp_path / "b", failing)
    with httpx.Client() as client:
        assert latencies(client, mirror.url, 10).size == 10
    mirror.stop()
    log = read_request_log(tmp_path / "b")
    assert log.frame["candidate_status"].tolist() == ["dropped_error"] * 10
    assert len(logged_candidate(log)[0].frame) == 0


def test_graceful_shutdown_drains_queue_and_flushes_log(production: ThreadedServer, tmp_path: Path) -> None:
    async def steady(request: ShadowRequest) -> Mapping[str, Any]:
        await asyncio.sleep(0.02)
        return production_answer(request.payload["features"])

    mirror = start_mirror(production, tmp_path / "log", steady, batch_rows=10_000, flush_seconds=3600, candidate_concurrency=1)
    with httpx.Client() as client:
        latencies(client, mirror.url, 25)
    before = stats(mirror)
    assert before["rows_written"] == 0 and before["queue_depth"] > 0  # still shadowing, nothing on disk yet
    mirror.stop()
    log = read_request_log(tmp_path / "log")
    assert log.counts.rows_scored == 25
    assert (log.frame["candidate_status"] == "ok").all()
    assert not list((tmp_path / "log").glob(".*.tmp"))
