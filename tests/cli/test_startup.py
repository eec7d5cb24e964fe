"""The fixed cost of `vigil run` (issue 18): no engine imported that a run does not use; Prefect's server started once, alongside.

The import checks run in a fresh interpreter (``sys.modules`` of this test
process holds whatever other tests imported) and first show that the probe
sees an import when there is one, so they can fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.startup import write_tiny_suite
from flows.server import PrefectServer
from tests.orchestration.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ENGINES = ("evidently", "plotly", "torch", "sklearn", "prefect.server.api.server", "ruptures", "scipy.stats")  # scipy.stats: ~0.5 s of CPU
STARTED = re.compile(r"started in [0-9.]+ s \(imports [0-9.]+ s, prepare [0-9.]+ s, ray [0-9.]+ s(?P<prefect>, prefect [0-9.]+ s; "
                     r"prefect server up in [0-9.]+ s, alongside)?\)")


@pytest.fixture()
def tiny_suite(tmp_path: Path) -> Path:
    """The start-up bench's tiny suite: one ``callable`` model on 200 CSV rows, one metric and gate; no drift, perturbations or torch."""
    return write_tiny_suite(tmp_path)


def _python(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


PROBE = """
import json, sys
engines = {engines!r}
from pipeline.evaluate.prepare import prepare_run
import cli.main, flows.evaluate, flows.server, pipeline.evaluate.infer
from storage.provenance import _gpu_device_nodes
plan = prepare_run({suite!r})
before = {{m: m in sys.modules for m in engines}}
import drift.evidently_adapter, reports.render
after = {{m: m in sys.modules for m in ("evidently", "plotly")}}
print(json.dumps({{"before": before, "after": after, "gpu_nodes": _gpu_device_nodes(), "gpu": plan.provenance["gpu"]}}))
"""


def test_the_run_path_up_to_the_flow_imports_no_engine_the_suite_does_not_use(tiny_suite: Path, tmp_path: Path) -> None:
    done = _python(PROBE.format(engines=ENGINES, suite=str(tiny_suite)), env={"VIGIL_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["after"] == {"evidently": True, "plotly": True}  # the probe sees an engine once something imports it
    expected = {m: False for m in ENGINES}
    if seen["gpu_nodes"]:  # a GPU machine: the provenance asks torch which GPUs it sees
        expected["torch"] = True
    assert seen["before"] == expected
    assert seen["gpu"] is None or seen["gpu_nodes"]


def test_registries_stay_complete_without_their_engines() -> None:
    """Registering metrics, perturbations, drift checks and model formats imports none of the engines behind them."""
    code = ("import sys, json, pipeline\nfrom drift.checks import DRIFT_CHECKS\nfrom evaluators.perturbations import PERTURBATIONS\n"
            "from workers.formats import MODEL_FORMATS\n"
            "print(json.dumps({'names': [len(list(DRIFT_CHECKS)), len(list(PERTURBATIONS)), sorted(MODEL_FORMATS)],"
            f" 'engines': [m for m in {ENGINES!r} if m in sys.modules]}}))")
    done = _python(code)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    drift_checks, perturbations, formats = seen["names"]
    assert drift_checks >= 8 and perturbations >= 10 and {"callable", "skops", "torch_state_dict", "torchscript"} <= set(formats)
    assert seen["engines"] == []


# ---- a real `vigil run`: real Prefect, real Ray --------------------------------------------------
WATCHED_RUN = """
import atexit, json, sys
atexit.register(lambda: print("ENGINES " + json.dumps([m for m in {engines!r} if m in sys.modules]), file=sys.stderr))
import cli.main
sys.argv = ["vigil", "run", "--verbose", {suite!r}]
cli.main.main()
"""


def _vigil_run(suite: Path, home: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = _python(WATCHED_RUN.format(engines=ENGINES, suite=str(suite)), env={"VIGIL_HOME": str(home), **env})
    engines = next((json.loads(line[8:]) for line in done.stderr.splitlines() if line.startswith("ENGINES ")), None)
    assert done.returncode == 0 and engines is not None, done.stderr[-3000:]
    return done, engines


def _servers_marked(marker: str) -> list[int]:
    """Pids of live uvicorn processes whose environment carries ``marker`` (inherited from the run that started them)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and b"uvicorn" in (proc / "cmdline").read_bytes() and marker.encode() in (proc / "environ").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow  # `vigil run` in a subprocess: Prefect's temporary server and a local Ray
def test_a_cold_run_starts_the_server_itself_alongside_and_leaves_nothing_running(tiny_suite: Path, tmp_path: Path) -> None:
    marker = f"VIGIL_STARTUP_TEST={uuid.uuid4().hex}"
    done, engines = _vigil_run(tiny_suite, tmp_path / "home", PREFECT_HOME=str(tmp_path / "prefect"), VIGIL_STARTUP_TEST=marker.split("=")[1])
    started = STARTED.search(" ".join(done.stderr.split()))
    assert started is not None and started["prefect"], done.stderr[-3000:]  # the temporary server was started, and waited for
    assert "verdict PASS" in done.stdout
    assert [e for e in engines if e != "plotly"] == []  # plotly: the run wrote its report; Prefect's server code stayed in its own process
    assert sys.platform != "linux" or _servers_marked(marker) == []


@pytest.fixture()
def running_server(tmp_path: Path) -> Iterator[str]:
    with PrefectServer(tmp_path / "served", port=free_port()) as server:
        yield server.api_url


@pytest.mark.slow
def test_against_a_running_server_the_run_starts_none_and_records_there(running_server: str, tiny_suite: Path, tmp_path: Path) -> None:
    done, engines = _vigil_run(tiny_suite, tmp_path / "home", PREFECT_API_URL=running_server)
    started = STARTED.search(" ".join(done.stderr.split()))
    assert started is not None and started["prefect"] is None, done.stderr[-3000:]  # nothing to wait for
    assert [e for e in engines if e != "plotly"] == []
    runs = httpx.post(f"{running_server}/flow_runs/filter", json={}, timeout=30).json()
    assert [r["state"]["type"] for r in runs] == ["COMPLETED"]  # the run's flow went to the server that was running


def test_flow_runs_on_a_temporary_server_send_no_heartbeats_and_other_runs_keep_theirs() -> None:
    from prefect.settings import get_current_settings

    from flows.server import unwatched_flows

    watched = get_current_settings().flows.heartbeat_frequency
    with unwatched_flows():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == watched and watched is not None


# ---- the temporary server is spawned before Prefect is imported, unless a file may choose otherwise -----
SPAWN_PROBE = """
import json, sys
from flows.server import start_temporary_server
server = start_temporary_server()
print(json.dumps({"spawned": server is not None, "prefect_imported": "prefect" in sys.modules}))
"""


@pytest.mark.parametrize(("profile", "expected"), [
    (None, {"spawned": True, "prefect_imported": False}),  # no file could set anything: decided from the environment
    ('active = "local"\n[profiles.local]\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\n', {"spawned": True, "prefect_imported": False}),
    ('active = "team"\n[profiles.team]\nPREFECT_API_URL = "http://127.0.0.1:9/api"\n', {"spawned": False, "prefect_imported": True}),
    ('active = "off"\n[profiles.off]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "false"\n', {"spawned": False, "prefect_imported": True}),
])
def test_the_temporary_server_is_spawned_without_prefect_only_where_no_profile_chooses(profile: str | None, expected: dict[str, bool],
                                                                                       tmp_path: Path) -> None:
    home = tmp_path / "prefect-home"
    home.mkdir()
    if profile is not None:
        (home / "profiles.toml").write_text(profile)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"PREFECT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", SPAWN_PROBE], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == expected
    assert "Traceback" not in done.stderr  # a server never used is killed at exit without a word


@pytest.mark.parametrize(("name", "text", "listed"), [
    (".env", "PREFECT_API_URL=http://127.0.0.1:9/api\n", True),
    ("prefect.toml", "[api]\nurl = 'http://127.0.0.1:9/api'\n", True),
    ("pyproject.toml", "[tool.prefect]\napi.url = 'http://127.0.0.1:9/api'\n", True),
    ("pyproject.toml", "[project]\nname = 'x'\n", False),
])
def test_settings_files_in_the_working_folder_send_the_decision_to_prefect(name: str, text: str, listed: bool, tmp_path: Path) -> None:
    from flows.server import prefect_settings_files

    (tmp_path / name).write_text(text)
    assert prefect_settings_files(tmp_path, tmp_path / "no-home") == ([tmp_path / name] if listed else [])


def test_settings_changed_in_this_process_are_honoured(tmp_path: Path) -> None:
    """Once Prefect is imported a setting may live only in this process (a temporary-settings context): Prefect's settings decide."""
    code = ("import json\nfrom prefect.settings import PREFECT_API_URL, temporary_settings\nfrom flows.server import start_temporary_server\n"
            "with temporary_settings({PREFECT_API_URL: 'http://127.0.0.1:9/api'}):\n    server = start_temporary_server()\n"
            "print(json.dumps({'spawned': server is not None}))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {"PREFECT_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"spawned": False}
