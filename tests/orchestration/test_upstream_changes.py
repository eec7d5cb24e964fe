"""Pure upstream-change logic: the archive, pinning an update, finding the version replaced, polling files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from flows.deployments import MODEL_CHANGE_PARAMETERS, UPSTREAM_CHANGE_PARAMETERS
from pipeline.triggers.upstream_changes import UpstreamUpdate, changed_files, derive_upstream_suite, pin_update, triggered_upstream_run_id
from storage.archive import ModuleArchive
from suite.errors import VigilError
from suite.load import load_suite
from tests.orchestration.conftest import ROOT


def _suite(folder: Path) -> Path:
    (folder / "scale_v1.py").write_text("def transform(x, data):\n    return x\n")
    (folder / "params.npz").write_bytes(b"params v1")
    (folder / "model.py").write_text("def predict(x):\n    return x\n")
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({
        "name": "toy", "task": "classification",
        "models": [{"name": "m", "format": "callable", "path": "model.py:predict", "sha256": _sha((folder / "model.py").read_bytes())}],
        "datasets": [{"name": "d", "loader": "sklearn.digits", "label": "label"}],
        "upstream": [{"name": "scaler", "module": "scale_v1.py:transform", "data": "params.npz"}],
    }, sort_keys=False))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_archive_keeps_each_version_by_content(tmp_path: Path) -> None:
    archive = ModuleArchive(tmp_path / "archive")
    (tmp_path / "f.parquet").write_bytes(b"v1")
    kept = archive.keep(tmp_path / "f.parquet")
    (tmp_path / "f.parquet").write_bytes(b"v2")  # overwritten in place: the copy stays
    assert kept.read_bytes() == b"v1" and kept.name == "f.parquet" and archive.find(_sha(b"v1")) == kept
    assert archive.find(_sha(b"v2")) is None
    archive.record("toy", "scaler", "data", _sha(b"v1"))
    archive.record("toy", "scaler", "module", "ab" * 32)
    assert archive.last_seen("toy") == {"scaler:data": _sha(b"v1"), "scaler:module": "ab" * 32}
    with pytest.raises(VigilError, match="changed while being archived"):
        archive.keep(tmp_path / "f.parquet", sha256=_sha(b"something else"))


def test_in_place_change_rolls_back_to_the_archived_version(tmp_path: Path) -> None:
    path = _suite(tmp_path)
    archive = ModuleArchive(tmp_path / "archive")
    suite = load_suite(path)
    assert changed_files(suite, archive) == []  # first sight: recorded, nothing emitted
    (tmp_path / "params.npz").write_bytes(b"params v2")
    [update] = changed_files(suite, archive)
    assert (update.field, update.sha256, update.previous_sha256) == ("data", _sha(b"params v2"), _sha(b"params v1"))
    assert changed_files(suite, archive) == []  # seen now

    pinned = pin_update(suite, update, archive)
    derived, has_previous = derive_upstream_suite(path, suite, pinned, archive, tmp_path / "out" / "suite.yaml")
    [module] = yaml.safe_load(derived.read_text())["upstream"]
    assert has_previous and Path(module["data"]).read_bytes() == b"params v2" and Path(module["previous"]["data"]).read_bytes() == b"params v1"
    assert module["module"] == module["previous"]["module"] == f"{tmp_path / 'scale_v1.py'}:transform"  # only the data rolls back
    assert load_suite(derived).upstream[0].previous is not None


def test_ci_update_replaces_the_suites_file_and_is_checked(tmp_path: Path) -> None:
    path = _suite(tmp_path)
    archive = ModuleArchive(tmp_path / "archive")
    suite = load_suite(path)
    (tmp_path / "scale_v2.py").write_text("def transform(x, data):\n    return x * 2\n")
    update = UpstreamUpdate(module="scaler", version="v2", path=str(tmp_path / "scale_v2.py"))  # a transform's default field is its code
    pinned = pin_update(suite, update, archive)
    assert pinned.field == "module" and pinned.sha256 == _sha((tmp_path / "scale_v2.py").read_bytes())
    assert triggered_upstream_run_id("toy", pinned) == f"toy-upstream-scaler-{pinned.sha256[:12]}"
    derived, _ = derive_upstream_suite(path, suite, pinned, archive, tmp_path / "out" / "suite.yaml")
    [module] = yaml.safe_load(derived.read_text())["upstream"]
    assert Path(module["previous"]["module"].split(":")[0]).read_text() == (tmp_path / "scale_v1.py").read_text()
    assert module["data"] == module["previous"]["data"] == str(tmp_path / "params.npz")

    with pytest.raises(VigilError, match=r"upstream: expected one of \['scaler'\], got 'ranker'"):
        pin_update(suite, UpstreamUpdate(module="ranker", version="v1"), archive)
    with pytest.raises(VigilError, match="sha256: expected 000000000000"):
        pin_update(suite, update.model_copy(update={"sha256": "0" * 64}), archive)
    with pytest.raises(VigilError, match="path: file .*missing.py not found"):
        pin_update(suite, UpstreamUpdate(module="scaler", version="v3", path=str(tmp_path / "missing.py")), archive)


def test_first_version_ever_has_nothing_to_roll_back_to(tmp_path: Path) -> None:
    path = _suite(tmp_path)
    archive = ModuleArchive(tmp_path / "archive")
    suite = load_suite(path)
    pinned = pin_update(suite, UpstreamUpdate(module="scaler", version="v1", field="data"), archive)  # the suite's own file
    derived, has_previous = derive_upstream_suite(path, suite, pinned, archive, tmp_path / "out" / "suite.yaml")
    assert not has_previous and "previous" not in yaml.safe_load(derived.read_text())["upstream"][0]


def test_prefect_yaml_triggers_match_the_python_deployments() -> None:
    doc = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_entry = {d["entrypoint"]: d for d in doc["deployments"]}
    for entry, expected in (("flows/on_model_change.py:on_model_change", MODEL_CHANGE_PARAMETERS),
                            ("flows/on_upstream_change.py:on_upstream_change", UPSTREAM_CHANGE_PARAMETERS)):
        [trigger] = by_entry[entry]["triggers"]
        assert {k: v for k, v in trigger["parameters"].items() if k != "suite_path"} == expected
    modules = [m.name for m in load_suite(ROOT / "examples" / "breast_cancer" / "suite.yaml").upstream]
    assert by_entry["flows/on_upstream_change.py:on_upstream_change"]["triggers"][0]["match"]["prefect.resource.id"] == f"vigil.upstream.{modules[0]}"


@pytest.mark.usefixtures("prefect_server")
def test_watch_upstream_flow_emits_once_per_change(tmp_path: Path, vigil_home: Path) -> None:
    from flows.watch import watch_upstream

    path = _suite(tmp_path)
    assert watch_upstream(str(path), polls=1) == 0  # first sight: recorded
    (tmp_path / "params.npz").write_bytes(b"params v2")
    (tmp_path / "scale_v1.py").write_text("def transform(x, data):\n    return -x\n")
    assert watch_upstream(str(path), polls=2, interval_s=0) == 2  # code and data changed: one event each, then quiet
    assert set(ModuleArchive(vigil_home / "upstream").last_seen("toy")) == {"scaler:module", "scaler:data"}
