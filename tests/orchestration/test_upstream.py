"""Upstream modules: a feature transform runs before the models, and its rollback is attributed (real Prefect, Ray)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from prefect.client.orchestration import get_client

from flows.evaluate import evaluate_suite
from pipeline.evaluate.prepare import prepare_run
from storage.datasets import DATASET_LOADERS, load_dataset
from storage.store import ResultStore
from suite.errors import ChecksumError, DataError, SpecError
from suite.load import load_suite
from suite.settings import load_settings
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.usefixtures("prefect_server")


def _with_upstream(suite_path: Path, **pins: str) -> None:
    (suite_path.parent / "features_v2.py").write_text("def transform(x):\n    return x\n")
    (suite_path.parent / "features_v1.py").write_text("def transform(x):\n    return x[:, ::-1].copy()\n")  # mirrored pixels
    slim_suite(suite_path, bootstrap={"resamples": 200}, metrics=["accuracy"], primary_metric="accuracy", slices=[], gates=[],
               upstream=[{"name": "featurizer", "module": "features_v2.py:transform", "previous": {"module": "features_v1.py:transform"}, **pins}])


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
    before = prepare_run(digits_suite)
    (digits_suite.parent / "features_v2.py").write_text("def transform(x):\n    return x * 1.0\n")
    after = prepare_run(digits_suite)
    assert before.model("cnn").sha256 != after.model("cnn").sha256  # a new module version misses the prediction cache
    assert before.variants == after.variants == ["clean", "ablation@featurizer"]
    _with_upstream(digits_suite, sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"upstream\[0\]\.sha256"):
        prepare_run(digits_suite)


def _digits_test(suite_path: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    suite = load_suite(suite_path)
    data = load_dataset(suite.datasets[0], suite)
    return data.frame, data.frame[data.features].to_numpy(np.float32), data.frame["label"].to_numpy()


def _only_upstream(suite_path: Path, modules: list[dict[str, object]]) -> None:
    datasets = yaml.safe_load(suite_path.read_text())["datasets"][:1]
    slim_suite(suite_path, bootstrap={"resamples": 200}, metrics=["accuracy"], primary_metric="accuracy", slices=[], gates=[], upstream=modules, datasets=datasets)


def test_data_snapshot_rolls_back_to_the_previous_snapshot(digits_suite: Path, vigil_home: Path) -> None:
    frame, pixels, labels = _digits_test(digits_suite)
    top = [f"pixel_{i}" for i in range(32)]  # the snapshot covers half the features; the rest stay as loaded
    frame[["sample_id", *top]].to_parquet(digits_suite.parent / "snap_v2.parquet")
    frame[["sample_id", *top]].assign(**{c: 0.0 for c in top}).to_parquet(digits_suite.parent / "snap_v1.parquet")
    _only_upstream(digits_suite, [{"name": "pixels", "kind": "data_snapshot", "data": "snap_v2.parquet", "version": "2024-05",
                                   "previous": {"data": "snap_v1.parquet", "version": "2024-04"}}])
    evaluate_suite(suite_path=str(digits_suite), run_id="snap")
    settings = load_settings()
    results = ResultStore(settings).run_results("snap").query("model == 'cnn' and metric == 'accuracy'").set_index("variant")
    blanked = pixels.copy()
    blanked[:, :32] = 0.0
    assert results.loc["clean", "value"] == pytest.approx(_cnn_accuracy(digits_suite, pixels, labels))
    assert results.loc["ablation@pixels", "value"] == pytest.approx(_cnn_accuracy(digits_suite, blanked, labels))
    table = pd.read_parquet(settings.runs_dir / "snap" / "upstream.parquet").set_index("model")
    row = table.loc["cnn"]
    assert (row["kind"], row["version"], row["previous_version"]) == ("data_snapshot", "2024-05", "2024-04")
    assert row["delta"] == pytest.approx(results.loc["clean", "value"] - results.loc["ablation@pixels", "value"])
    assert row["ci_low"] > 0, "blanking half the pixels must cost accuracy"


def test_retriever_uses_each_versions_index(digits_suite: Path, vigil_home: Path) -> None:
    _, pixels, labels = _digits_test(digits_suite)
    (digits_suite.parent / "retrieve.py").write_text(
        "import numpy as np\n\n"
        "def retrieve(features, index):\n"
        "    corpus = np.load(index)['corpus']\n"
        "    d = ((features[:, None, :] - corpus[None, :, :]) ** 2).sum(-1)\n"
        "    return corpus[d.argmin(1)].astype(features.dtype)\n"
    )
    rng = np.random.default_rng(1)
    stale = pixels[rng.permutation(len(pixels))[: len(pixels) // 8]]  # the old index holds an eighth of the rows
    np.savez(digits_suite.parent / "index_v2.npz", corpus=pixels)
    np.savez(digits_suite.parent / "index_v1.npz", corpus=stale)
    _only_upstream(digits_suite, [{"name": "knn", "kind": "retriever", "module": "retrieve.py:retrieve", "data": "index_v2.npz",
                                   "previous": {"module": "retrieve.py:retrieve", "data": "index_v1.npz"}}])
    evaluate_suite(suite_path=str(digits_suite), run_id="retriever")
    results = ResultStore(load_settings()).run_results("retriever").query("model == 'cnn' and metric == 'accuracy'").set_index("variant")
    nearest_stale = stale[((pixels[:, None, :] - stale[None, :, :]) ** 2).sum(-1).argmin(1)]
    assert results.loc["clean", "value"] == pytest.approx(_cnn_accuracy(digits_suite, pixels, labels))  # the full index retrieves each row itself
    assert results.loc["ablation@knn", "value"] == pytest.approx(_cnn_accuracy(digits_suite, nearest_stale, labels))


def test_snapshot_without_a_row_for_an_id_fails_naming_the_field(digits_suite: Path, vigil_home: Path) -> None:
    frame, _, _ = _digits_test(digits_suite)
    frame[["sample_id", "pixel_0"]].iloc[1:].to_parquet(digits_suite.parent / "snap.parquet")
    _only_upstream(digits_suite, [{"name": "pixels", "kind": "data_snapshot", "data": "snap.parquet"}])
    with pytest.raises(DataError, match=r"upstream\[0\]\.data: snapshot .*snap\.parquet: sample_id: no row for id"):
        evaluate_suite(suite_path=str(digits_suite), run_id="bad-snap")
    assert ResultStore(load_settings()).get_run("bad-snap") is None
    with pytest.raises(DataError, match=r"upstream\[0\]\.data: snapshot"):  # refused by the plan, before any inference
        prepare_run(digits_suite)


def test_upstream_kind_fields_and_data_pins_are_checked(digits_suite: Path) -> None:
    np.savez(digits_suite.parent / "index.npz", corpus=np.zeros((1, 64)))
    (digits_suite.parent / "retrieve.py").write_text("def retrieve(features, index):\n    return features\n")
    _only_upstream(digits_suite, [{"name": "knn", "kind": "retriever", "module": "retrieve.py:retrieve"}])
    with pytest.raises(SpecError, match=r"upstream\[0\]: data: a retriever module needs data"):
        load_suite(digits_suite)
    _only_upstream(digits_suite, [{"name": "knn", "kind": "retriever", "module": "retrieve.py:retrieve", "data": "index.npz", "data_sha256": "0" * 64}])
    with pytest.raises(ChecksumError, match=r"upstream\[0\]\.data_sha256: expected 000000000000"):
        prepare_run(digits_suite)
