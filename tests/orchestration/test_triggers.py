"""Pure trigger logic: checkpoint scans, dedupe keys, derived suites, nightly ids, backfill plans."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from flows.nightly import nightly_run_id
from pipeline.triggers.backfill import plan_backfill
from pipeline.triggers.derive import ModelUpdate, changed_checkpoints, derive_suite, scan_checkpoints, triggered_run_id
from pipeline.evaluate.prepare import prepare_run
from suite.errors import VigilError
from suite.load import load_suite


def test_scan_reports_added_and_changed_checkpoints_only(tmp_path: Path) -> None:
    (tmp_path / "a.pt").write_bytes(b"one")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "ranker").mkdir()
    (tmp_path / "ranker" / "v1.onnx").write_bytes(b"r1")
    before = scan_checkpoints(tmp_path)
    assert before == {"a.pt": hashlib.sha256(b"one").hexdigest(), "ranker/v1.onnx": hashlib.sha256(b"r1").hexdigest()}
    (tmp_path / "a.pt").write_bytes(b"one")  # same bytes: no event
    (tmp_path / "ranker" / "v2.onnx").write_bytes(b"r2")
    updates = changed_checkpoints(tmp_path, before, scan_checkpoints(tmp_path))
    assert updates == [ModelUpdate(model="ranker", version="v2", path=str(tmp_path / "ranker" / "v2.onnx"), sha256=hashlib.sha256(b"r2").hexdigest())]
    (tmp_path / "a.pt").write_bytes(b"two")
    [changed] = changed_checkpoints(tmp_path, before, scan_checkpoints(tmp_path))[:1]
    assert (changed.model, changed.version) == ("a", hashlib.sha256(b"two").hexdigest()[:12])
    with pytest.raises(VigilError, match="expected a directory"):
        scan_checkpoints(tmp_path / "a.pt")


def test_same_change_same_run_id() -> None:
    sha = "0123456789ab" + "f" * 52
    a = ModelUpdate(model="cnn", version="v2", sha256=sha)
    assert triggered_run_id("digits", a) == triggered_run_id("digits", ModelUpdate(model="cnn", version="renamed", sha256=sha)) == "digits-cnn-0123456789ab"
    assert triggered_run_id("digits", ModelUpdate(model="cnn", version="2024 06/01")) == "digits-cnn-2024-06-01"
    event = a.event()
    assert event["event"] == "vigil.model.updated" and event["resource"]["prefect.resource.id"] == "vigil.model.cnn"
    assert event["payload"]["version"] == "v2"


def test_derived_suite_swaps_one_checkpoint_and_keeps_everything_else(digits_suite: Path, tmp_path: Path) -> None:
    new = tmp_path / "elsewhere" / "cnn-v3.pt"
    new.parent.mkdir()
    new.write_bytes((digits_suite.parent / "checkpoints" / "candidate.pt").read_bytes())
    sha = hashlib.sha256(new.read_bytes()).hexdigest()
    derived = derive_suite(digits_suite, tmp_path / "derived" / "suite.yaml", models={"cnn": {"path": str(new), "sha256": sha, "version": "v3"}})
    original, changed = load_suite(digits_suite), load_suite(derived)
    cnn = next(m for m in changed.models if m.name == "cnn")
    assert (cnn.path, cnn.version) == (str(new), "v3")
    assert changed.resolve(next(m for m in changed.models if m.name == "mlp").path) == original.resolve(original.models[1].path)
    plan = prepare_run(derived)  # checksums and the model module resolve from the new folder
    assert plan.model("cnn").version == "v3"
    with pytest.raises(VigilError, match="expected one of \\['cnn', 'mlp'\\], got 'gpt'"):
        derive_suite(digits_suite, tmp_path / "x.yaml", models={"gpt": {"version": "1"}})


def test_nightly_id_uses_the_scheduled_utc_date() -> None:
    paris_late = datetime(2024, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert nightly_run_id("digits", paris_late) == "digits-nightly-20240229"
    assert nightly_run_id("digits", datetime(2024, 3, 1, 23, 59, tzinfo=UTC)) == "digits-nightly-20240301"


def test_same_day_retrigger_is_kept_beside_the_scheduled_run_and_a_retry_replaces() -> None:
    night = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    committed: set[str] = set()
    first = nightly_run_id("digits", night, committed.__contains__)
    assert first == "digits-nightly-20261126"
    assert nightly_run_id("digits", night, committed.__contains__, retry=True) == first  # nothing committed yet: same id
    committed.add(first)
    second = nightly_run_id("digits", night, committed.__contains__)
    assert second == "digits-nightly-20261126-2"  # a manual re-trigger: a new attempt, the scheduled run kept
    committed.add(second)
    assert nightly_run_id("digits", night, committed.__contains__, retry=True) == second  # its retry replaces itself only
    assert nightly_run_id("digits", night, committed.__contains__) == "digits-nightly-20261126-3"


def test_backfill_plan_is_versions_times_windows(digits_suite: Path) -> None:
    suite = load_suite(digits_suite)
    versions = [ModelUpdate(model="cnn", version=v) for v in ("v1", "v2")]
    pieces = plan_backfill(suite, versions=versions, windows={"2024-01": "a.parquet", "2024-02": "b.parquet"})
    assert [p.run_id for p in pieces] == ["digits-bf-cnn-v1-2024-01", "digits-bf-cnn-v1-2024-02", "digits-bf-cnn-v2-2024-01", "digits-bf-cnn-v2-2024-02"]
    assert [p.run_id for p in plan_backfill(suite)] == ["digits-bf-suite-current-all"]
    with pytest.raises(VigilError, match="got 'resnet'"):
        plan_backfill(suite, versions=[ModelUpdate(model="resnet", version="1")])


def test_registry_manifest_entries_are_updates(tmp_path: Path) -> None:
    from pipeline.triggers.manifest import changed_entries, read_manifest

    (tmp_path / "ckpt").mkdir()
    (tmp_path / "ckpt" / "cnn-v1.pt").write_bytes(b"w1")
    manifest = tmp_path / "registry.yaml"
    manifest.write_text("models:\n  - {name: cnn, version: 1, path: ckpt/cnn-v1.pt}\n  - {name: ranker, version: v7, sha256: '" + "a" * 64 + "'}\n")
    first = read_manifest(manifest)
    assert first["cnn"] == ModelUpdate(model="cnn", version="1", path=str(tmp_path / "ckpt" / "cnn-v1.pt"), sha256=hashlib.sha256(b"w1").hexdigest())
    assert [u.model for u in changed_entries({}, first)] == ["cnn", "ranker"]
    (tmp_path / "ckpt" / "cnn-v2.pt").write_bytes(b"w2")
    manifest.write_text(manifest.read_text().replace("version: 1, path: ckpt/cnn-v1.pt", "version: 2, path: ckpt/cnn-v2.pt"))
    assert [(u.model, u.version) for u in changed_entries(first, read_manifest(manifest))] == [("cnn", "2")]
    assert changed_entries(read_manifest(manifest), read_manifest(manifest)) == []

    manifest.write_text("models:\n  - {name: cnn, version: 3, path: ckpt/missing.pt}\n")
    with pytest.raises(VigilError, match=r"registry\.yaml: models\[0\]\.path: file .*missing\.pt not found"):
        read_manifest(manifest)
    manifest.write_text("models: {cnn: v1}\n")
    with pytest.raises(VigilError, match=r"registry\.yaml: models: expected a list"):
        read_manifest(manifest)
    manifest.write_text("models:\n  - {name: 'c n n', version: 1, sha256: '" + "a" * 64 + "'}\n")
    with pytest.raises(VigilError, match=r"registry\.yaml: models\[0\]\.model"):
        read_manifest(manifest)
