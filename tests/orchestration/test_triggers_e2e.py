"""End to end on a real Prefect server: serve the deployments, emit vigil.model.updated, see the gated run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import yaml

from pipeline.triggers.derive import file_sha256
from storage.store import ResultStore
from suite.settings import load_settings
from tests.conftest import require
from tests.orchestration.conftest import ROOT, api, child_env, vigil, wait_for
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.slow  # a Prefect server, `vigil serve` in a subprocess, Chromium

AUTOMATIONS = ROOT / "deploy" / "automations.yaml"


def _flow_runs(url: str, flow: str) -> list[dict[str, Any]]:
    runs = api(url, "/flow_runs/filter", {"flows": {"name": {"any_": [flow]}}, "sort": "EXPECTED_START_TIME_ASC"})
    return [r for r in runs if r["state_type"] != "SCHEDULED"]


def _completed(url: str, flow: str, count: int) -> list[dict[str, Any]] | None:
    runs = _flow_runs(url, flow)
    failed = [r for r in runs if r["state_type"] in ("FAILED", "CRASHED")]
    assert not failed, f"{flow} run {failed[0]['name']} ended {failed[0]['state_type']}"
    done = [r for r in runs if r["state_type"] == "COMPLETED"]
    return done if len(done) >= count else None


@pytest.fixture(scope="module")
def served(prefect_api: str, tmp_path_factory: pytest.TempPathFactory, digits_checkpoints: Path) -> Iterator[dict[str, Any]]:
    """`vigil serve --api-url` on a copy of the digits suite with a Paris nightly schedule."""
    work = tmp_path_factory.mktemp("served")
    suite_dir = work / "digits"
    shutil.copytree(ROOT / "examples" / "digits", suite_dir, ignore=shutil.ignore_patterns("__pycache__"))
    suite = suite_dir / "suite.yaml"
    slim_suite(suite, schedule={"cron": "15 3 * * 1-5", "timezone": "Europe/Paris"})
    cancer = work / "breast_cancer" / "suite.yaml"  # it declares an upstream data snapshot
    shutil.copytree(ROOT / "examples" / "breast_cancer", cancer.parent, ignore=shutil.ignore_patterns("__pycache__"))
    slim_suite(cancer, drift_gate=None)
    env = child_env(prefect_api, work / "vigil-home")
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", str(suite), str(cancer), "--api-url", prefect_api],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # digits: nightly, on-model-change, backfill, shadow-replay, drift-watch; breast-cancer also on-upstream-change
        deployments = wait_for(lambda: len(api(prefect_api, "/deployments/filter", {})) >= 11 and api(prefect_api, "/deployments/filter", {}), 90, "deployments")
        yield {"url": prefect_api, "suite": suite, "cancer": cancer, "env": env, "pid": proc.pid, "home": work / "vigil-home", "deployments": deployments, "log": work / "serve.log"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def test_serve_registers_nightly_with_suite_cron(served: dict[str, Any]) -> None:
    by_name = {(d["name"], d["entrypoint"]): d for d in served["deployments"]}
    nightly = by_name[("digits", "flows/nightly.py:nightly")]
    [schedule] = nightly["schedules"]
    assert schedule["schedule"]["cron"] == "15 3 * * 1-5"
    assert schedule["schedule"]["timezone"] == "Europe/Paris"
    assert "trigger:nightly" in nightly["tags"] and "suite:digits" in nightly["tags"]
    assert nightly["global_concurrency_limit"]["limit"] == 1  # one nightly run of a suite at a time
    assert api(served["url"], "/concurrency_limits/tag/vigil-cluster")["concurrency_limit"] == 2
    assert ("digits", "flows/on_model_change.py:on_model_change") in by_name
    assert ("digits", "flows/backfill.py:backfill") in by_name


def test_model_updated_event_runs_gated_evaluation_once(served: dict[str, Any]) -> None:
    url, env = served["url"], served["env"]
    checkpoint = served["suite"].parent / "checkpoints" / "candidate.pt"
    notify = ["notify", "model-updated", "--model", "cnn", "--version", "v2", "--path", str(checkpoint)]
    done = vigil(notify, env)
    assert done.returncode == 0, done.stderr
    [first] = wait_for(lambda: _completed(url, "on-model-change", 1), 150, "the triggered on-model-change run")
    assert first["parameters"]["version"] == "v2" and first["parameters"]["model"] == "cnn"
    assert first["parameters"]["sha256"] == file_sha256(checkpoint)
    served["first_run"] = first

    store = ResultStore(load_settings(home=served["home"]))
    expected_id = f"digits-cnn-{file_sha256(checkpoint)[:12]}"
    run = store.get_run(expected_id)
    assert run is not None and run.verdict == "pass" and run.trigger == "model-change:cnn@v2"
    assert {m.name: m.version for m in run.models}["cnn"] == "v2"

    again = vigil(notify, env)  # the same change again: a second flow run, no second evaluation
    assert again.returncode == 0, again.stderr
    wait_for(lambda: _completed(url, "on-model-change", 2), 90, "the duplicate on-model-change run")
    assert [r.run_id for r in store.list_runs()] == [expected_id]
    assert len(_flow_runs(url, "evaluate-suite")) == 1


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,1000", "--virtual-time-budget=15000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_prefect_ui_shows_vigil_verdict_of_finished_run(served: dict[str, Any], tmp_path: Path) -> None:
    require(Path(CHROMIUM).is_file(), "Debian's chromium is not installed (apt-get install -y chromium)")
    url = served["url"]
    runs = wait_for(lambda: _completed(url, "evaluate-suite", 1), 150, "a finished evaluate-suite run")
    [artifact] = api(url, "/artifacts/filter", {"artifacts": {"key": {"any_": ["vigil-digits-verdict"]}}, "flow_runs": {"id": {"any_": [runs[0]["id"]]}}})
    assert artifact["data"].startswith("# Vigil verdict: **PASS**")
    ui = url.removesuffix("/api")
    page = f"{ui}/runs/flow-run/{runs[0]['id']}?tab=Artifacts"
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    dom = _chromium(["--dump-dom", page], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    (out / "prefect-flow-run-artifacts.html").write_text(dom.stdout)
    assert runs[0]["name"] in dom.stdout and ">Artifacts<" in dom.stdout, "the flow-run page did not render"
    # The run page opens on its logs (the tab query is dropped while the run loads); its
    # Artifacts tab links each artifact's page, which renders the verdict markdown.
    detail = f"{ui}/artifacts/artifact/{artifact['id']}"
    rendered = _chromium(["--dump-dom", detail], tmp_path / "profile-artifact")
    (out / "prefect-vigil-verdict.html").write_text(rendered.stdout)
    text = re.sub(r"<[^>]+>", " ", rendered.stdout)
    assert "Vigil verdict:" in text and "PASS" in text and "Headline metrics" in text and "macro_f1" in text
    assert runs[0]["name"] in text, "the artifact page should name the run it belongs to"
    for name, target in (("prefect-flow-run-artifacts.png", page), ("prefect-vigil-verdict.png", detail)):
        shot = _chromium([f"--screenshot={out / name}", target], tmp_path / f"profile-{name}")
        assert shot.returncode == 0 and (out / name).stat().st_size > 10_000, shot.stderr[-2000:]


def test_watch_emits_model_updated_for_new_checkpoint(served: dict[str, Any], tmp_path: Path) -> None:
    watched = tmp_path / "registry" / "ranker"
    watched.mkdir(parents=True)
    (watched / "v7.onnx").write_bytes(b"not a real model, only bytes to hash")
    done = vigil(["watch", str(tmp_path / "registry"), "--once"], served["env"])
    assert done.returncode == 0, done.stderr
    expected = hashlib.sha256(b"not a real model, only bytes to hash").hexdigest()

    def arrived() -> list[dict[str, Any]]:
        page = api(served["url"], "/events/filter", {"filter": {"event": {"name": ["vigil.model.updated"]}, "resource": {"id": ["vigil.model.ranker"]}}, "limit": 10})
        return page["events"]

    [event] = wait_for(arrived, 30, "the watched checkpoint's event")
    assert event["payload"] == {"model": "ranker", "version": "v7", "path": str(watched / "v7.onnx"), "sha256": expected}

    manifest = tmp_path / "registry.yaml"  # a registry manifest works the same way
    manifest.write_text("models:\n  - {name: reranker, version: 2026-04, path: registry/ranker/v7.onnx}\n")
    done = vigil(["watch", str(manifest), "--once"], served["env"])
    assert done.returncode == 0 and "reranker@2026-04" in done.stdout, done.stderr

    def from_manifest() -> list[dict[str, Any]]:
        return api(served["url"], "/events/filter", {"filter": {"event": {"name": ["vigil.model.updated"]}, "resource": {"id": ["vigil.model.reranker"]}}, "limit": 10})["events"]

    [event] = wait_for(from_manifest, 30, "the manifest entry's event")
    assert event["payload"] == {"model": "reranker", "version": "2026-04", "path": str(watched / "v7.onnx"), "sha256": expected}


def test_deploy_registers_on_a_process_work_pool(served: dict[str, Any], tmp_path: Path) -> None:
    suite = tmp_path / "ops" / "suite.yaml"
    suite.parent.mkdir()
    doc = yaml.safe_load(served["suite"].read_text())
    doc.update(name="digits-ops", schedule={"cron": "0 4 * * *", "timezone": "UTC"})
    for model in doc["models"]:
        model["path"] = str(served["suite"].parent / model["path"])
        model["module"] = str(served["suite"].parent / model["module"]) if model.get("module") else None
    suite.write_text(yaml.safe_dump(doc, sort_keys=False))
    done = vigil(["deploy", str(suite), "--work-pool", "vigil-test", "--cron", "45 23 * * *", "--timezone", "America/New_York"], served["env"])
    assert done.returncode == 0, done.stderr + done.stdout
    assert api(served["url"], "/work_pools/vigil-test")["type"] == "process"
    deployments = api(served["url"], "/deployments/filter", {"deployments": {"name": {"any_": ["digits-ops"]}}})
    assert {d["entrypoint"] for d in deployments} >= {"flows/nightly.py:nightly", "flows/on_model_change.py:on_model_change", "flows/backfill.py:backfill"}
    assert {d["work_pool_name"] for d in deployments} == {"vigil-test"}
    nightly = next(d for d in deployments if d["entrypoint"] == "flows/nightly.py:nightly")
    assert [(s["schedule"]["cron"], s["schedule"]["timezone"]) for s in nightly["schedules"]] == [("45 23 * * *", "America/New_York")]
    assert nightly["job_variables"]["env"]["VIGIL_HOME"] == str(served["home"])
    assert nightly["pull_steps"], "the code must come from this checkout"


def test_upstream_change_in_place_is_revalidated_and_attributed(served: dict[str, Any]) -> None:
    url, env, suite = served["url"], served["env"], served["cancer"]
    by_name = {(d["name"], d["entrypoint"]): d for d in served["deployments"]}
    assert ("breast-cancer", "flows/on_upstream_change.py:on_upstream_change") in by_name
    assert ("digits", "flows/on_upstream_change.py:on_upstream_change") not in by_name  # digits has no upstream modules
    snapshot = suite.parent / "upstream" / "worst-features-2026-03.parquet"
    original = file_sha256(snapshot)
    first = vigil(["watch-upstream", str(suite), "--once"], env)  # first sight: archived and recorded, nothing emitted
    assert first.returncode == 0 and "vigil.upstream.updated" not in first.stdout, first.stderr

    # The feature job rewrites the snapshot in place, with a bug: worst_radius comes out as 0.
    broken = pd.read_parquet(snapshot).assign(worst_radius=0.0)
    broken.to_parquet(snapshot)
    new = file_sha256(snapshot)
    second = vigil(["watch-upstream", str(suite), "--once"], env)
    assert second.returncode == 0 and f"{original[:12]} → {new[:12]}" in second.stdout, second.stderr + second.stdout
    [run] = wait_for(lambda: _completed(url, "on-upstream-change", 1), 150, "the triggered on-upstream-change run")
    assert (run["parameters"]["module"], run["parameters"]["sha256"], run["parameters"]["previous_sha256"]) == ("worst-features", new, original)

    settings = load_settings(home=served["home"])
    store = ResultStore(settings)
    run_id = f"breast-cancer-upstream-worst-features-{new[:12]}"
    record = store.get_run(run_id)
    assert record is not None and record.trigger == f"upstream-change:worst-features@{new[:12]}"
    derived = yaml.safe_load((served["home"] / "triggered" / run_id / "suite.yaml").read_text())
    [module] = derived["upstream"]
    assert file_sha256(Path(module["data"])) == new and file_sha256(Path(module["previous"]["data"])) == original  # rolled back to the archived copy
    table = pd.read_parquet(settings.runs_dir / run_id / "upstream.parquet").set_index("model")
    assert set(table["version"]) == {new[:12]} and set(table["previous_version"]) == {original[:12]}
    results = store.run_results(run_id).query("slice == 'all' and metric == 'roc_auc' and dataset == 'cancer-test'")
    value = results.set_index(["model", "variant"])["value"]
    for model in ("boosting", "mlp"):
        assert table.loc[model, "delta"] == pytest.approx(value[(model, "clean")] - value[(model, "ablation@worst-features")])

    # CI ships the fixed snapshot as a new file; the version it replaces is the broken one Vigil saw last.
    fixed = suite.parent / "worst-features-fixed.parquet"
    shutil.copyfile(ROOT / "examples" / "breast_cancer" / "upstream" / "worst-features-2026-03.parquet", fixed)
    notify = ["notify", "upstream-updated", "--module", "worst-features", "--version", "2026-03-fix", "--path", str(fixed)]
    assert vigil(notify, env).returncode == 0
    wait_for(lambda: _completed(url, "on-upstream-change", 2), 150, "the second on-upstream-change run")
    fix_id = f"breast-cancer-upstream-worst-features-{original[:12]}"
    fix = pd.read_parquet(settings.runs_dir / fix_id / "upstream.parquet").set_index("model")
    assert set(fix["previous_version"]) == {new[:12]} and set(fix["version"]) == {"2026-03-fix"}
    for model in ("boosting", "mlp"):  # the same two snapshots swapped: the attributed change flips sign
        assert fix.loc[model, "delta"] == pytest.approx(-table.loc[model, "delta"])

    assert vigil(notify, env).returncode == 0  # the same change again: no second evaluation
    wait_for(lambda: _completed(url, "on-upstream-change", 3), 90, "the duplicate on-upstream-change run")
    assert sorted(r.run_id for r in store.list_runs() if r.suite == "breast-cancer") == sorted([run_id, fix_id])


def _children() -> dict[int, list[int]]:
    """Parent pid → child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(stat.parent.name))
    return tree


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _flow_run_process(serve_pid: int, flow_run_id: str) -> int | None:
    """The runner's child executing ``flow_run_id`` (its environment names the flow run)."""
    marker = f"PREFECT__FLOW_RUN_ID={flow_run_id}".encode()
    for pid in _children().get(serve_pid, []):
        try:
            if marker in (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0"):
                return pid
        except OSError:
            continue
    return None


def test_crashed_run_is_rescheduled_by_the_example_automation(served: dict[str, Any]) -> None:
    url = served["url"]
    [crash] = [a for a in yaml.safe_load(AUTOMATIONS.read_text())["automations"] if "prefect.flow-run.Crashed" in a["trigger"]["expect"]]
    api(url, "/automations/", crash)
    nightly = next(d for d in served["deployments"] if d["entrypoint"] == "flows/nightly.py:nightly" and d["name"] == "digits")
    slow = served["suite"].parent / "crash.yaml"  # its own name (run id) and perturbations: nothing cached, long enough to kill
    doc = yaml.safe_load((ROOT / "examples" / "digits" / "suite.yaml").read_text())
    doc.update(name="digits-crash", drift=None, drift_gate=None, perturbations=doc["perturbations"][:1], bootstrap={"resamples": 200})
    slow.write_text(yaml.safe_dump(doc, sort_keys=False))
    run = api(url, f"/deployments/{nightly['id']}/create_flow_run", {"parameters": {"suite_path": str(slow)}})
    wait_for(lambda: api(url, f"/flow_runs/{run['id']}")["state_type"] == "RUNNING" and _flow_run_process(served["pid"], run["id"]), 90, "the nightly run to start")
    time.sleep(3)  # into its evaluation
    assert api(url, f"/flow_runs/{run['id']}")["state_type"] == "RUNNING", "the run finished before it could be killed"
    victim = _flow_run_process(served["pid"], run["id"])
    assert victim is not None
    tree, doomed, stack = _children(), [], [victim]
    while stack:  # the flow-run process and everything it started (its local Ray): a lost worker machine
        pid = stack.pop()
        doomed.append(pid)
        stack += tree.get(pid, [])
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def states() -> list[dict[str, Any]]:
        with httpx.Client(timeout=30) as client:
            return client.get(f"{url}/flow_run_states/", params={"flow_run_id": run["id"]}).raise_for_status().json()

    wait_for(lambda: api(url, f"/flow_runs/{run['id']}")["state_type"] == "COMPLETED", 240, "the crashed nightly run to be rescheduled and complete")
    history = [(s["type"], s.get("message") or "") for s in sorted(states(), key=lambda s: s["timestamp"])]
    types = [t for t, _ in history]
    assert "CRASHED" in types and types[-1] == "COMPLETED", history
    assert any(t == "SCHEDULED" and "Rescheduled by Vigil" in m for t, m in history[types.index("CRASHED"):]), history
    runs = [r for r in ResultStore(load_settings(home=served["home"])).list_runs() if r.run_id.startswith("digits-crash-nightly-")]
    assert [(r.status, r.verdict) for r in runs] == [("completed", "pass")]  # recorded once, nothing half-written left behind
    assert not (served["home"] / "staging" / runs[0].run_id).exists()
