"""The prediction cache key covers everything that changes a prediction: each edit below makes a re-run recompute.

Most tests plan the run twice (``prepare_run``, no workers) around one edit of a
copied digits suite and compare the cache keys of every work item: a changed key
is a cache miss, so the re-run predicts afresh. One test runs ``vigil run`` twice
around a negated model and checks the accuracy and verdict change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import pipeline.evaluate.fingerprint as fingerprint
from evaluators.perturbations import PERTURBATIONS
from pipeline.evaluate.fingerprint import model_fingerprint
from pipeline.evaluate.infer import prediction_cache_key
from pipeline.evaluate.prepare import prepare_run
from storage.cache import PredictionCache
from suite.load import load_suite
from suite.settings import load_settings
from tests.suite_edits import edit_dataset, edit_model, edit_suite, negate_cnn, repin, slim_suite, write_helper_model

ROOT = Path(__file__).resolve().parents[2]
Keys = dict[tuple[str, str, str], str]


def _keys(suite: Path) -> Keys:
    plan = prepare_run(suite)
    return {(i.model, i.dataset, i.variant): plan.cache_key(i.model, i.dataset, i.variant) for i in plan.work_items()}


def _changed(before: Keys, after: Keys) -> set[tuple[str, str]]:
    """(model, variant) pairs whose key changed (items present in both plans)."""
    return {(m, v) for (m, d, v), key in before.items() if (m, d, v) in after and after[(m, d, v)] != key}


def _retrain_checkpoint(suite: Path) -> None:
    import torch

    path = suite.parent / "checkpoints" / "candidate.pt"
    state = torch.load(path, weights_only=True)
    state["head.bias"] = state["head.bias"] + 1.0
    torch.save(state, path)
    repin(suite)


def _with_upstream(suite: Path, body: str) -> None:
    (suite.parent / "scaler.py").write_text(f"def transform(x):\n    return {body}\n")
    if "upstream" not in yaml.safe_load(suite.read_text()):
        edit_suite(suite, upstream=[{"name": "scaler", "module": "scaler.py:transform"}])


# name → (setup before the first plan, the edit, the (model, variant) pairs whose key must change; "*" = all)
EDITS: dict[str, tuple[Callable[[Path], None] | None, Callable[[Path], None], set[tuple[str, str]] | str]] = {
    "module file": (None, negate_cnn, "cnn"),
    "helper imported by the module": (lambda s: write_helper_model(s, "16.0"), lambda s: write_helper_model(s, "8.0"), "cnn"),
    "init_args": (None, lambda s: edit_model(s, "cnn", init_args={"channels": 16}), "cnn"),
    "output mode": (None, lambda s: edit_model(s, "cnn", output="probabilities"), "cnn"),
    "input form": (None, lambda s: edit_model(s, "mlp", input="frame"), "mlp"),
    "device": (None, lambda s: edit_model(s, "mlp", device="cuda"), "mlp"),
    "precision": (None, lambda s: edit_model(s, "mlp", precision="bf16"), "mlp"),
    "checkpoint": (None, _retrain_checkpoint, "cnn"),
    "data": (None, lambda s: edit_dataset(s, "digits-test", split="all"), "*"),
    "features read": (None, lambda s: edit_dataset(s, "digits-test", features=[f"pixel_{i}" for i in range(63)]), "*"),
    "class order": (None, lambda s: edit_suite(s, classes=list(range(9, -1, -1))), "*"),
    "upstream module": (lambda s: _with_upstream(s, "x"), lambda s: _with_upstream(s, "x * 1.0"), "*"),
    "perturbation columns": (None, lambda s: edit_suite(s, perturbations=[
        {"kind": "occlusion", "columns": [f"pixel_{i}" for i in range(32)]}, {"kind": "image_gaussian_noise"}, {"kind": "contrast"}]), "occlusion"),
}


def _expected(spec: set[tuple[str, str]] | str, before: Keys) -> set[tuple[str, str]]:
    pairs = {(m, v) for m, _, v in before}
    if spec == "*":
        return pairs
    return {(m, v) for m, v in pairs if m == spec or v.startswith(f"{spec}:")}


@pytest.mark.parametrize("name", list(EDITS))
def test_an_edit_changes_exactly_the_keys_it_affects(name: str, digits_suite: Path) -> None:
    setup, edit, affected = EDITS[name]
    if setup is not None:
        setup(digits_suite)
    before = _keys(digits_suite)
    edit(digits_suite)
    after = _keys(digits_suite)
    assert _changed(before, after) == _expected(affected, before)


def test_an_unchanged_rerun_keeps_every_key(digits_suite: Path) -> None:
    first = _keys(digits_suite)
    (digits_suite.parent / "notes.txt").write_text("not code")  # an unrelated file in the suite folder
    edit_model(digits_suite, "cnn", batch_size=64)  # batching does not change a row's prediction (documented)
    assert _keys(digits_suite) == first


def test_seed_changes_only_perturbed_keys(digits_suite: Path) -> None:
    before = _keys(digits_suite)
    edit_suite(digits_suite, seed=8)
    assert _changed(before, _keys(digits_suite)) == {(m, v) for m, _, v in before if v != "clean"}


def test_perturbation_version_changes_its_keys(digits_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _keys(digits_suite)
    monkeypatch.setattr(type(PERTURBATIONS.get("contrast")), "version", "99")
    assert _changed(before, _keys(digits_suite)) == {(m, v) for m, _, v in before if v.startswith("contrast:")}


def test_predictor_version_changes_every_key(digits_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _keys(digits_suite)
    monkeypatch.setattr(fingerprint, "PREDICTOR_VERSION", "99")
    assert _changed(before, _keys(digits_suite)) == {(m, v) for m, _, v in before}


def test_library_versions_change_their_formats_keys(digits_suite: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = _keys(digits_suite)
    real = fingerprint._version
    monkeypatch.setattr(fingerprint, "_version", lambda name: "0.0-other" if name == "torch" else real(name))
    assert _changed(before, _keys(digits_suite)) == {(m, v) for m, _, v in before}  # both digits models are torch


def test_orchestrator_cache_key_follows_the_prediction_key(digits_suite: Path, vigil_home: Path) -> None:
    """The infer task's Prefect cache key (``pipeline.evaluate.infer.prediction_cache_key``) is the prediction key, so a code
    edit misses; a record whose predictions file is gone gets a key of its own (the end-to-end hit is
    ``tests/flows/test_evaluate.py::test_rerun_same_id_replaces_and_reuses_predictions``)."""
    settings = load_settings()
    plan = prepare_run(digits_suite)
    item = plan.work_items()[0]
    key = plan.cache_key(item.model, item.dataset, item.variant)
    records: set[str] = set()
    assert prediction_cache_key(plan, item, settings, records.__contains__) == key  # a first run stores under the real key
    records.add(key)
    PredictionCache(settings.cache_dir).put(key, pd.DataFrame({"x": [1]}))
    assert prediction_cache_key(plan, item, settings, records.__contains__) == key  # ... which the next run hits
    negate_cnn(digits_suite)
    replanned = prepare_run(digits_suite)
    assert item.model == "cnn"
    edited = prediction_cache_key(replanned, item, settings, records.__contains__)
    assert edited == replanned.cache_key(item.model, item.dataset, item.variant) != key
    PredictionCache(settings.cache_dir).path(key).unlink()  # the cache cleared behind the orchestrator's back
    lost = prediction_cache_key(plan, item, settings, records.__contains__)
    assert lost.startswith(key) and "-missing-" in lost


def test_fingerprint_follows_local_imports_not_installed_packages(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "net.py").write_text("import numpy\nfrom . import layers\nfrom .util import clip\n")
    (tmp_path / "pkg" / "layers.py").write_text("import shared\n")
    (tmp_path / "pkg" / "util.py").write_text("def clip(x):\n    return x\n")
    (tmp_path / "shared.py").write_text("K = 1\n")
    (tmp_path / "unused.py").write_text("K = 2\n")
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump({
        "name": "s", "task": "regression", "datasets": [{"name": "d", "loader": "sklearn.digits", "label": "label"}],
        "models": [{"name": "m", "format": "callable", "module": "pkg.net:predict"}],
    }))
    suite = load_suite(tmp_path / "suite.yaml")
    code = fingerprint.model_code(suite.models[0], suite.base_dir)
    assert sorted(code["files"]) == ["../shared.py", "__init__.py", "layers.py", "net.py", "util.py"]
    before = model_fingerprint(suite.models[0], suite).sha256
    (tmp_path / "unused.py").write_text("K = 3\n")
    assert model_fingerprint(suite.models[0], suite).sha256 == before
    (tmp_path / "shared.py").write_text("K = 4\n")  # two imports away
    assert model_fingerprint(suite.models[0], suite).sha256 != before


def test_drift_outputs_are_recomputed_after_a_code_edit(digits_suite: Path, vigil_home: Path) -> None:
    """``pipeline.evaluate.drift.model_predictions`` (drift's own cache) predicts afresh when the module changes."""
    from pipeline.evaluate.drift import model_predictions
    from storage.datasets import load_dataset

    suite = load_suite(digits_suite)
    data = load_dataset(next(d for d in suite.datasets if d.name == "digits-reference"), suite)
    labels = data.frame["label"].to_numpy()
    first = model_predictions(suite, data, load_settings(), 10)
    assert (first["cnn"]["y_pred"].to_numpy() == labels).mean() > 0.9
    negate_cnn(digits_suite)
    second = model_predictions(load_suite(digits_suite), data, load_settings(), 10)
    assert (second["cnn"]["y_pred"].to_numpy() == labels).mean() < 0.2
    assert np.array_equal(second["mlp"]["y_pred"], first["mlp"]["y_pred"])


def _vigil_run(suite: Path, home: Path, services: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT), **services}  # the session's Ray and Prefect server
    env.pop("VIGIL_INDEX_URL", None)
    return subprocess.run([sys.executable, "-m", "cli.main", "run", str(suite), "--json"],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)


def _accuracy(document: dict, model: str) -> float:
    return next(r["value"] for r in document["results"]
                if r["model"] == model and r["metric"] == "accuracy" and r["slice"] == "all" and r["variant"] == "clean")


def test_vigil_run_recomputes_a_negated_model(digits_suite: Path, tmp_path: Path, session_services: dict[str, str]) -> None:
    """End to end: the second run reports the negated model's accuracy and fails, not the cached pass."""
    import json

    slim_suite(digits_suite, slices=[],
               metrics=["accuracy", "macro_f1"], gates=[{"metric": "macro_f1", "min": 0.9}])
    home = tmp_path / "home"
    first = _vigil_run(digits_suite, home, session_services)
    assert first.returncode == 0, first.stderr
    cached = {p.name: p.stat().st_mtime_ns for p in (home / "cache" / "predictions").glob("*.parquet")}
    negate_cnn(digits_suite)
    second = _vigil_run(digits_suite, home, session_services)
    assert second.returncode == 1, second.stderr  # the gate fails: the verdict follows the new code
    before, after = json.loads(first.stdout), json.loads(second.stdout)
    assert _accuracy(before, "cnn") > 0.9 and _accuracy(after, "cnn") < 0.2
    assert _accuracy(after, "mlp") == _accuracy(before, "mlp")
    now = {p.name: p.stat().st_mtime_ns for p in (home / "cache" / "predictions").glob("*.parquet")}
    assert len(now) == len(cached) + 1  # the cnn's predictions were made again under a new key ...
    assert all(now[name] == mtime for name, mtime in cached.items())  # ... and the mlp's cache entry was read, not rewritten
    sha = hashlib.sha256((digits_suite.parent / "model.py").read_bytes()).hexdigest()
    assert after["provenance"]["prediction_fingerprints"]["cnn"]["inputs"]["code"]["files"]["model.py"] == sha
