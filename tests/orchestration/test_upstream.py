"""Upstream modules: a feature transform runs before the models, and its rollback is attributed (real Prefect, Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from prefect.client.orchestration import get_client

from flows.evaluate import evaluate_suite
from pipeline.prepare import prepare_run
from storage.datasets import DATASET_LOADERS
from storage.store import ResultStore
from suite.errors import ChecksumError
from suite.settings import load_settings

pytestmark = pytest.mark.usefixtures("prefect_server")


def _with_upstream(suite_path: Path, **pins: str) -> None:
    (suite_path.parent / "features_v2.py").write_text("def transform(x):\n    return x\n")
    (suite_path.parent / "features_v1.py").write_text("def transform(x):\n    return x[:, ::-1].copy()\n")  # mirrored pixels
    doc = yaml.safe_load(suite_path.read_text())
    doc.update(bootstrap={"resamples": 200}, metrics=["accuracy"], primary_metric="accuracy", slices=[], gates=[], perturbations=[], robustness_gates=[], drift=None,
               upstream=[{"name": "featurizer", "module": "features_v2.py:transform", "previous": {"module": "features_v1.py:transform"}, **pins}])
    suite_path.write_text(yaml.safe_dump(doc, sort_keys=False))


def _cnn_accuracy(suite_path: Path, features: np.ndarray, labels: np.ndarray) -> float:
    """Independent of Vigil's workers: load the checkpoint with torch and predict here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("digits_model", suite_path.parent / "model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.DigitsCNN()
    net.load_state_dict(torch.load(suite_path.parent / "checkpoints" / "candidate.pt", weights_only=True))
    with torch.no_grad():
        pred = net(torch.from_numpy(features.astype(np.float32))).argmax(1).numpy()
    return float((pred == labels).mean())


def test_ablation_attributes_the_change_to_the_module(digits_suite: Path, vigil_home: Path) -> None:
    _with_upstream(digits_suite)
    evaluate_suite(suite_path=str(digits_suite), run_id="upstream")
    results = ResultStore(load_settings()).run_results("upstream").query("model == 'cnn' and metric == 'accuracy'").set_index("variant")
    assert set(results.index) == {"clean", "ablation@featurizer"}

    data = DATASET_LOADERS.get("sklearn.digits")("test")
    pixels, labels = data[[f"pixel_{i}" for i in range(64)]].to_numpy(), data["label"].to_numpy()
    assert results.loc["clean", "value"] == pytest.approx(_cnn_accuracy(digits_suite, pixels, labels))
    assert results.loc["ablation@featurizer", "value"] == pytest.approx(_cnn_accuracy(digits_suite, pixels[:, ::-1], labels))

    with get_client(sync_client=True) as client:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["vigil-digits-upstream"])), limit=1)
    table = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    rows = {(r["module"], r["model"]): r for r in table}
    cnn = rows[("featurizer", "cnn")]
    assert cnn["delta"] == pytest.approx(results.loc["clean", "value"] - results.loc["ablation@featurizer", "value"])
    assert cnn["ci_low"] <= cnn["delta"] <= cnn["ci_high"] and cnn["ci_low"] > 0  # mirrored inputs really hurt


def test_changed_module_changes_the_plan_and_pins_are_checked(digits_suite: Path) -> None:
    _with_upstream(digits_suite)
    before, _ = prepare_run(digits_suite)
    (digits_suite.parent / "features_v2.py").write_text("def transform(x):\n    return x * 1.0\n")
    after, _ = prepare_run(digits_suite)
    assert before.model("cnn").sha256 != after.model("cnn").sha256  # a new module version misses the prediction cache
    assert before.variants == after.variants == ["clean", "ablation@featurizer"]
    _with_upstream(digits_suite, sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"upstream\[0\]\.sha256"):
        prepare_run(digits_suite)
