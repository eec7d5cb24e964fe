"""`vigil run` beside a running `vigil serve`: handed to serve's warm spare, on serve's one Ray (issue 18, "a fast start").

One real `vigil serve` (its own Prefect server, Ray head and spares) on a slimmed copy of the
breast-cancer example is shared by the module; every `vigil run` is a real subprocess with the
same VIGIL_HOME. The last test stops serve and checks what it leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.orchestration.conftest import ROOT, api, child_env, free_port, vigil, wait_for
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.slow  # `vigil serve` with its Prefect server and Ray head, and `vigil run` subprocesses

FORWARDED = re.compile(r"started in [0-9.]+ s \(forwarded to vigil serve \(pid (\d+)\)")


@dataclass
class Served:
    """The running serve: its process, environment for clients, suite files and serve.json."""

    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    home: Path
    suite: Path
    failing: Path
    info: dict[str, object]

    def spares_taken(self) -> list[str]:
        """The spare pids that took a run, in order (from serve/spare.log)."""
        log = (self.home / "serve" / "spare.log").read_text()
        return re.findall(r"spare (\d+) took a run", log)


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`vigil serve` on a slimmed breast-cancer suite (one model, no perturbations), up with its spare's socket."""
    folder = tmp_path_factory.mktemp("warm")
    shutil.copytree(ROOT / "examples" / "breast_cancer", folder / "cancer", ignore=shutil.ignore_patterns("__pycache__"))
    suite = folder / "cancer" / "suite.yaml"
    slim = {"models": [m for m in _models(suite) if m["name"] == "boosting"], "upstream": [], "slices": [], "metrics": ["accuracy", "roc_auc"],
            "workers": {"num_actors": 1, "cpus_per_actor": 1}, "drift_gate": None}
    slim_suite(suite, **slim, gates=[{"metric": "roc_auc", "min": 0.9}])
    failing = folder / "cancer" / "failing.yaml"
    failing.write_text(suite.read_text())
    slim_suite(failing, **slim, gates=[{"metric": "roc_auc", "min": 0.99999}])
    env = child_env("", folder / "home")
    env.pop("PREFECT_API_URL")
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", str(suite), "--port", str(free_port())],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        info_file = folder / "home" / "serve" / "serve.json"
        wait_for(lambda: info_file.exists() or proc.poll() is not None, 120, "vigil serve's serve.json")
        assert proc.poll() is None, (folder / "serve.log").read_text()[-3000:]
        yield Served(proc, env, folder / "home", suite, failing, json.loads(info_file.read_text()))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


def _models(suite: Path) -> list[dict[str, object]]:
    import yaml

    return list(yaml.safe_load(suite.read_text())["models"])


def test_a_run_is_served_by_the_spare_on_serves_ray_and_server(served: Served) -> None:
    out = vigil(["run", "--verbose", "--json", str(served.suite)], served.env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert [int(p) for p in FORWARDED.findall(out.stderr)] == [served.proc.pid]  # timed from the client's start
    document = json.loads(out.stdout)  # read back from the index
    assert document["verdict"] == "pass" and document["provenance"]["ray_address"] == served.info["ray_address"]
    runs = api(str(served.info["api_url"]), "/flow_runs/filter", {"limit": 50})
    assert any(r["parameters"].get("run_id") == document["run_id"] for r in runs)  # the flow ran against serve's Prefect server


def test_exit_codes_and_errors_reach_the_client(served: Served, tmp_path: Path) -> None:
    before = len(served.spares_taken())
    failed = vigil(["run", str(served.failing)], served.env)
    assert failed.returncode == 1, failed.stderr[-3000:]
    assert "FAIL" in failed.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text(served.suite.read_text().replace("task: classification", "task: sorting"))
    bad = vigil(["run", str(broken)], served.env)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("error:") and "task" in bad.stderr
    assert len(served.spares_taken()) == before + 2  # both were forwarded


def test_the_spare_is_replaced_after_each_run(served: Served) -> None:
    before = served.spares_taken()
    for _ in range(2):
        out = vigil(["run", "--verbose", str(served.suite)], served.env)
        assert out.returncode == 0 and FORWARDED.search(out.stderr), out.stderr[-3000:]
    taken = served.spares_taken()
    assert len(taken) == len(before) + 2 and len(set(taken)) == len(taken)  # a fresh process each time


def test_settings_that_differ_from_serves_are_not_forwarded(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.forward import forward

    monkeypatch.chdir(ROOT)
    for name in [k for k in os.environ if k.startswith(("VIGIL_", "PREFECT_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("VIGIL_HOME", str(served.home))
    monkeypatch.setenv("VIGIL_INDEX_URL", f"sqlite:///{served.home / 'other.db'}")
    assert forward(["run", str(served.suite)]) is None  # another index: not serve's runs
    monkeypatch.delenv("VIGIL_INDEX_URL")
    assert forward(["run", "--ray-address", "127.0.0.1:1", str(served.suite)]) is None  # another Ray
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert forward(["run", str(served.suite)]) is None  # another Prefect server
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("VIGIL_NO_SERVE", "1")
    assert forward(["run", str(served.suite)]) is None  # asked not to (main() then runs it here: see the last test)
    monkeypatch.delenv("VIGIL_NO_SERVE")
    assert forward(["runs"]) is None  # only `vigil run` is forwarded


def test_serves_own_flow_runs_join_its_ray(served: Served) -> None:
    url = str(served.info["api_url"])
    nightly = next(d for d in api(url, "/deployments/filter", {}) if d["entrypoint"].endswith(":nightly"))
    run = api(url, f"/deployments/{nightly['id']}/create_flow_run", {})

    def finished() -> dict[str, object] | None:
        state = api(url, f"/flow_runs/{run['id']}")["state"]
        return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    assert wait_for(finished, 90, "the nightly flow run")["type"] == "COMPLETED"
    shown = vigil(["runs", "--json"], served.env)
    nightly_runs = [r for r in json.loads(shown.stdout) if r["trigger"].startswith("nightly")]
    document = json.loads(vigil(["show", nightly_runs[0]["run_id"], "--json"], served.env).stdout)
    assert document["provenance"]["ray_address"] == served.info["ray_address"]  # joined serve's Ray, started none


def test_stopping_serve_takes_its_ray_and_spare_and_runs_go_local(served: Served) -> None:
    children = _children(served.proc.pid)  # the Ray head and its reaper, the Prefect server, the spare
    assert len(children) >= 4
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(60) == 0
    wait_for(lambda: not any(_alive(pid) for pid in children), 20, "serve's children to exit")
    assert not (served.home / "serve" / "serve.json").exists() and not Path(str(served.info["socket"])).exists()
    host, port = str(served.info["ray_address"]).split(":")
    with socket.socket() as sock:
        assert sock.connect_ex((host, int(port))) != 0  # the Ray head is gone
    local = vigil(["run", "--verbose", str(served.suite)], served.env)
    assert local.returncode == 0, local.stderr[-3000:]
    assert "started in" in local.stderr and not FORWARDED.search(local.stderr)
