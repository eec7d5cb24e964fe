"""storage.manifest: every commit writes a manifest of its files, the index holds its hash, and `vigil verify` re-checks it.

Runs are committed for real (pipeline.commit → ResultStore.commit_run on SQLite);
the CLI is called in process (no Prefect, no Ray).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from pipeline.commit import StagedArtifact, StagedRun, commit_staged_run
from storage.frames import write_frame
from storage.manifest import MANIFEST_FILE, MANIFEST_KEY
from storage.store import ResultStore
from suite.settings import Settings, load_settings

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _rows() -> pd.DataFrame:
    return pd.DataFrame([{"dataset": "test", "model": "mlp", "model_sha": "aa" * 32, "role": "candidate", "variant": "clean",
                          "slice": "all", "metric": "accuracy", "metric_version": "1", "value": 0.9, "ci_low": 0.85, "ci_high": 0.93, "n": 100}])


def _commit(settings: Settings, run_id: str, *, staged: bool = True) -> None:
    staging = ResultStore(settings).staging_dir(run_id)
    if staged:
        (staging / "gates.json").parent.mkdir(parents=True, exist_ok=True)
        (staging / "gates.json").write_text('{"verdict": "pass"}')
        write_frame(staging / "predictions" / "test" / "mlp" / "clean.parquet", pd.DataFrame({"sample_id": [1, 2], "y_pred": [0, 1]}))
    run = StagedRun(run_id=run_id, suite="digits", suite_hash="h", started_at=T0, trigger="manual", provenance={},
                    artifacts=[StagedArtifact(kind="gates", file="gates.json")])
    commit_staged_run(run, _rows(), settings)


@pytest.fixture()
def settings(vigil_home: Path) -> Settings:
    return load_settings()


def _verify(run_id: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify", run_id])
    return result.exit_code, result.output


def test_a_commit_lists_every_file_and_the_index_holds_the_manifest_hash(settings: Settings) -> None:
    _commit(settings, "r1")
    record = ResultStore(settings).get_run("r1")
    files = json.loads((settings.run_dir("r1") / MANIFEST_FILE).read_text())["files"]
    results = ResultStore(settings).results_path(record).relative_to(settings.home).as_posix()
    assert set(files) == {"runs/r1/gates.json", "runs/r1/predictions/test/mlp/clean.parquet", results}
    assert len(record.provenance[MANIFEST_KEY]) == 64
    assert _verify("r1")[0] == 0
    shown = CliRunner().invoke(app, ["show", "r1", "--json"])
    assert json.loads(shown.output)["manifest_sha256"] == record.provenance[MANIFEST_KEY]


def test_a_recommit_replaces_the_manifest(settings: Settings) -> None:
    _commit(settings, "r1")
    _commit(settings, "r1")
    assert _verify("r1")[0] == 0


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_names_a_one_byte_change_in_the_results_parquet(settings: Settings) -> None:
    _commit(settings, "r1")
    target = ResultStore(settings).results_path(ResultStore(settings).get_run("r1"))
    _flip_one_byte(target)
    code, output = _verify("r1")
    assert code == 1
    assert f"altered: {target.relative_to(settings.home).as_posix()}" in output


def test_verify_names_altered_missing_and_extra_run_files(settings: Settings) -> None:
    _commit(settings, "r1")
    folder = settings.run_dir("r1")
    _flip_one_byte(folder / "predictions" / "test" / "mlp" / "clean.parquet")
    (folder / "gates.json").unlink()
    (folder / "notes.txt").write_text("added later")
    code, output = _verify("r1")
    assert code == 1
    assert "altered: runs/r1/predictions/test/mlp/clean.parquet" in output
    assert "missing: runs/r1/gates.json" in output
    assert "extra: runs/r1/notes.txt" in output


def test_a_rewritten_manifest_is_caught_by_its_hash_in_the_index(settings: Settings) -> None:
    _commit(settings, "r1")
    path = settings.run_dir("r1") / MANIFEST_FILE
    path.write_text(path.read_text().replace('"bytes"', '"bytes" ', 1))
    code, output = _verify("r1")
    assert code == 1
    assert "altered: runs/r1/manifest.json" in output


def test_a_run_without_a_manifest_cannot_be_verified(settings: Settings) -> None:
    _commit(settings, "old", staged=False)  # no run folder: nothing to list, as runs committed before manifests
    assert MANIFEST_KEY not in ResultStore(settings).get_run("old").provenance
    code, output = _verify("old")
    assert code == 2
    assert output.strip().splitlines() == ["error: run 'old': no manifest: committed before manifests"]


def test_an_unknown_run_exits_2(settings: Settings) -> None:
    assert _verify("nope")[0] == 2


@pytest.mark.parametrize("rows", [0, 1, 70_000, 200_001])
def test_predictions_hash_streamed_equals_the_whole_frame_hash(tmp_path: Path, rows: int) -> None:
    """Provenance hashes predictions a record batch at a time; the hash must be the whole frame's, as runs recorded it."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from storage.manifest import frame_sha256, parquet_frame_sha256

    rng = np.random.default_rng(rows)
    scores = rng.random((rows, 3), dtype=np.float32)
    classification = pd.DataFrame({"sample_id": rng.permutation(rows).astype(np.int64), "y_true": rng.integers(0, 3, rows),
                                   "y_pred": scores.argmax(axis=1), **{f"score_{k}": scores[:, k] for k in range(3)}})
    regression = pd.DataFrame({"sample_id": np.arange(rows, dtype=np.int64), "y_true": rng.normal(size=rows), "y_pred": rng.normal(size=rows)},
                              index=pd.RangeIndex(rows) * 2)  # an index stored by pandas is not content
    for name, frame in (("cls", classification), ("reg", regression)):
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(frame), path, row_group_size=50_000)
        assert parquet_frame_sha256(path, batch_rows=65_536) == frame_sha256(pd.read_parquet(path)), name
