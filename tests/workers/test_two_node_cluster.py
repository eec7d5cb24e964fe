"""A real two-node Ray cluster (a head and a second node, started and stopped by PID): Vigil connects by address.

Token authentication is on, as Ray 2.60 defaults; the token lives in a temp file named by
RAY_AUTH_TOKEN_PATH so the tests never touch the home directory. `ray stop` is never used.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.suite_edits import slim_suite
from workers.head import free_port

pytestmark = pytest.mark.slow  # a two-node Ray cluster and `vigil run` in subprocesses

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """Block until the head's GCS accepts connections (or fail if it died or never did)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"ray head exited with {proc.returncode}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(1)  # the GCS listens a moment before it serves
                return
        time.sleep(0.5)
    raise AssertionError(f"ray head on port {port}: expected it to listen within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """A head (1 CPU) and a second node (1 CPU, resource ``worker_b``) as child process groups."""
    folder = Path(tempfile.mkdtemp(prefix="vray", dir="/tmp"))  # short: Ray's socket paths must stay short
    (folder / "token").write_text(secrets.token_hex(32))
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(folder / "token")}
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--disable-usage-stats", "--node-ip-address=127.0.0.1", "--block"]
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", f"--ray-client-server-port={free_port()}",
         f"--dashboard-agent-listen-port={free_port()}", f"--temp-dir={folder / 'ray'}", *common],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    procs = [head]
    try:
        _wait_for_port(port, head)
        node = subprocess.Popen(
            [RAY, "start", f"--address={address}", '--resources={"worker_b": 1}', f"--dashboard-agent-listen-port={free_port()}", *common],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(node)
        yield address, env
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


PROBE = """
import json, sys, time
from pathlib import Path
import ray
from suite.spec import ModelSpec, WorkersSpec
from workers.cluster import ensure_ray
from workers.pool import InferencePool
ensure_ray(sys.argv[1])
deadline = time.time() + 60
while sum(n["Alive"] for n in ray.nodes()) < 2 and time.time() < deadline:
    time.sleep(0.5)
spec = ModelSpec(name="cnn", format="torch_state_dict", path="checkpoints/candidate.pt", sha256=sys.argv[3], module="model.py:DigitsCNN", output="logits")
pool = InferencePool(spec, Path(sys.argv[2]), task="classification", num_classes=10, workers=WorkersSpec(num_actors=2, cpus_per_actor=1), name_prefix="probe")
print(json.dumps({"nodes": sum(n["Alive"] for n in ray.nodes()), "placements": pool.placements()}))
pool.close()
"""


def test_actors_spread_over_both_nodes(ray_cluster: tuple[str, dict[str, str]]) -> None:
    address, env = ray_cluster
    digits = ROOT / "examples" / "digits"
    sha = yaml.safe_load((digits / "suite.yaml").read_text())["models"][0]["sha256"]
    out = subprocess.run([sys.executable, "-c", PROBE, address, str(digits), sha], env={**env, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["nodes"] == 2
    assert len({p["node_id"] for p in found["placements"]}) == 2  # one actor per 1-CPU node


@pytest.mark.usefixtures("prefect_server")
def test_vigil_run_on_the_cluster_by_address(ray_cluster: tuple[str, dict[str, str]], digits_suite: Path, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    address, env = ray_cluster
    slim_suite(digits_suite)
    # the session's Prefect server, so the child starts none of its own (the cluster is what is under test)
    run_env = {**env, "PYTHONPATH": str(ROOT), "VIGIL_HOME": str(tmp_path / "home"), "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    run_env.pop("VIGIL_INDEX_URL", None)
    out = subprocess.run([sys.executable, "-m", "cli.main", "run", str(digits_suite), "--ray-address", address, "--json"],
                         env=run_env, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    document = json.loads(out.stdout)
    assert document["verdict"] == "pass" and document["provenance"]["ray_address"] == address
