"""A cluster that cannot serve a run (no room, no cluster, a stuck actor): one line with exit 2, never a hang or a failed gate.

Ray queues an actor that asks for more than the cluster has free; before, `vigil run` sat
silent for 300 s, then Prefect retried inference three times (20 minutes in all). Here a
real `vigil run` joins this session's Ray while another job holds both of its CPUs.

``ray.init`` on an address where no cluster listens retries for minutes (seen still
retrying after 5) with only C++ warnings; CI's test of driver memory hung on one (a
module had restarted the session's Ray elsewhere). The address is now probed first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.startup import write_tiny_suite
from suite.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 8


class _Holder:
    """An actor that only holds the CPUs it was started with."""

    def ready(self) -> bool:
        return True


def _infer_task_runs(suite: Path) -> list:
    """The `infer` task runs of the flow run this test's child started for ``suite`` (on the session's Prefect server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        flow_runs = [r for r in client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=50)
                     if Path(str(r.parameters.get("suite_path", ""))).resolve() == suite.resolve()]
        assert len(flow_runs) == 1, f"expected one flow run of {suite}, found {len(flow_runs)}"
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_runs[0].id])))
    return [t for t in task_runs if t.name.startswith("infer ")]


def test_a_full_cluster_is_a_one_line_error_after_the_wait_and_not_retried(tmp_path: Path, session_services: dict[str, str]) -> None:
    import ray

    suite = write_tiny_suite(tmp_path)
    suite.write_text(suite.read_text().replace("workers: {num_actors: 1}", f"workers: {{num_actors: 1, start_timeout_s: {TIMEOUT_S}}}"))
    holder = ray.remote(num_cpus=ray.cluster_resources()["CPU"])(_Holder).remote()
    ray.get(holder.ready.remote(), timeout=60)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home"), **session_services}
        done = subprocess.run([sys.executable, "-m", "cli.main", "run", str(suite)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
    finally:
        ray.kill(holder)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr[-3000:]  # an error, not a failed gate
    assert lines[-1] == (f"error: model m: 1 actor asking for 1 CPU each not placed within {TIMEOUT_S} s (workers.start_timeout_s);"
                         " cluster has 0 of 2 CPUs, 1 of 1 GPUs free"), done.stderr[-3000:]
    assert any("waiting" in line and "to be placed and load the model; cluster has 0 of 2 CPUs" in line for line in lines), done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    infer = _infer_task_runs(suite)
    assert [t.run_count for t in infer] == [1], [(t.name, t.run_count, t.state_name) for t in infer]  # the wait was not retried
    runs = subprocess.run([sys.executable, "-m", "cli.main", "runs", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(runs.stdout) == [], runs.stdout  # nothing half-written: the run was discarded


HUNG_MODEL = "import time\n\n\ndef predict(x):\n    time.sleep(600)  # a model call that never returns\n"


def test_a_model_call_that_never_returns_is_a_one_line_error_after_the_timeout_and_not_retried(
    tmp_path: Path, session_services: dict[str, str]
) -> None:
    import hashlib

    suite = write_tiny_suite(tmp_path)
    old_sha = hashlib.sha256((tmp_path / "model.py").read_bytes()).hexdigest()
    (tmp_path / "model.py").write_text(HUNG_MODEL)
    new_sha = hashlib.sha256(HUNG_MODEL.encode()).hexdigest()
    suite.write_text(suite.read_text().replace(old_sha, new_sha)
                     .replace("workers: {num_actors: 1}", "workers: {num_actors: 1, max_retries: 1, shard_timeout_s: 3}"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home"), **session_services}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli.main", "run", str(suite)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr[-3000:]  # an error, not a failed gate, and not a hang
    assert done.stderr.strip().splitlines()[-1] == (
        "error: model m: shard 0 failed on 2 actors (workers.max_retries is 1): no shard finished within 3 s"
        " (workers.shard_timeout_s): the actor was stopped as stuck"), done.stderr[-3000:]
    assert "Traceback" not in done.stderr and time.perf_counter() - started < 200
    infer = _infer_task_runs(suite)
    assert [t.run_count for t in infer] == [1], [(t.name, t.run_count, t.state_name) for t in infer]  # the waits were not repeated
    runs = subprocess.run([sys.executable, "-m", "cli.main", "runs", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(runs.stdout) == [], runs.stdout


@pytest.fixture(autouse=True)
def _no_actor_left(session_ray: str):
    yield
    import ray

    def left() -> list[str]:
        return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("vigil-m-")]

    deadline = time.monotonic() + 15
    while left() and time.monotonic() < deadline:  # a killed actor leaves the GCS's list in a moment
        time.sleep(0.2)
    assert not left(), "the child's actor outlived it"


def test_an_address_where_no_cluster_answers_fails_in_seconds(tmp_path: Path, session_services: dict[str, str]) -> None:
    suite, dead = write_tiny_suite(tmp_path), f"127.0.0.1:{free_port()}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home"),
           "PREFECT_API_URL": session_services["PREFECT_API_URL"], "VIGIL_RAY_ADDRESS": dead}
    done = subprocess.run([sys.executable, "-m", "cli.main", "run", str(suite)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.strip().splitlines()[-1] == f"error: ray address {dead}: no Ray cluster answers there (Connection refused); is it running?"
    assert "Traceback" not in done.stderr
