"""Model code is pinned like checkpoints: ``module_sha256`` is checked before the module is imported."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.evaluate.prepare import prepare_run
from suite.errors import ChecksumError, SpecError
from suite.load import load_suite
from suite.spec import ModelSpec
from tests.suite_edits import edit_model, edit_suite
from workers.checksum import verify_code, verify_model

ROOT = Path(__file__).resolve().parents[2]


def _vigil(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VIGIL_HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("VIGIL_INDEX_URL", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def _swap_in_code_that_leaves_a_mark(suite: Path) -> tuple[Path, str, str]:
    """Append code that would create a marker file when imported; returns (marker, pinned, actual)."""
    marker = suite.parent / "imported.marker"
    model = suite.parent / "model.py"
    model.write_text(model.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")
    pinned = yaml.safe_load(suite.read_text())["models"][0]["module_sha256"]
    return marker, pinned, hashlib.sha256(model.read_bytes()).hexdigest()


def test_the_examples_pin_their_module_files() -> None:
    for name in ("digits", "breast_cancer"):
        suite = load_suite(ROOT / "examples" / name / "suite.yaml")
        for model in (m for m in suite.models if m.module is not None):
            assert model.module_sha256 is not None
            verify_code(model, suite.base_dir)


def test_a_swapped_module_is_refused_before_it_is_imported(digits_suite: Path) -> None:
    marker, pinned, actual = _swap_in_code_that_leaves_a_mark(digits_suite)
    with pytest.raises(ChecksumError) as info:
        prepare_run(digits_suite)
    assert str(info.value) == f"suite {digits_suite}: models[0].module_sha256: expected {pinned}, file model.py has {actual}"
    spec = load_suite(digits_suite).models[0]
    with pytest.raises(ChecksumError, match=f"model cnn: module_sha256: expected {pinned}"):
        verify_model(spec, digits_suite.parent)  # what each worker's Predictor checks first
    assert not marker.exists()


@pytest.mark.slow  # `vigil` in a subprocess
def test_vigil_run_refuses_a_swapped_module_with_one_line(digits_suite: Path, tmp_path: Path) -> None:
    marker, pinned, actual = _swap_in_code_that_leaves_a_mark(digits_suite)
    result = _vigil("run", str(digits_suite), home=tmp_path / "home")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert f"suite {digits_suite}: models[0].module_sha256: expected {pinned}, file model.py has {actual}" in lines[0]
    assert not marker.exists()


@pytest.mark.slow  # `vigil` in a subprocess
def test_a_missing_pin_warns_once_and_validate_says_what_it_loaded(digits_suite: Path, tmp_path: Path) -> None:
    edit_model(digits_suite, "cnn", module_sha256=None)
    result = _vigil("validate", str(digits_suite), home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: ") and "models[0].module_sha256 (model.py)" in warnings[0]
    assert result.stdout.strip() == "ok: suite digits (2 models loaded: torch_state_dict, torchscript; 3 datasets: 1 evaluation, 2 reference; 32 inference tasks)"


def test_require_code_pins_makes_a_missing_pin_an_error(digits_suite: Path) -> None:
    edit_model(digits_suite, "cnn", module_sha256=None)
    edit_suite(digits_suite, require_code_pins=True)
    with pytest.raises(SpecError) as info:
        prepare_run(digits_suite)
    assert str(info.value) == f"suite {digits_suite}: models[0].module_sha256: expected a sha256 pin of model.py (require_code_pins: true), got none"


def test_require_code_pins_covers_upstream_modules(digits_suite: Path) -> None:
    (digits_suite.parent / "scaler.py").write_text("def transform(x):\n    return x\n")
    edit_suite(digits_suite, require_code_pins=True, upstream=[{"name": "scaler", "module": "scaler.py:transform"}])
    with pytest.raises(SpecError, match=r"upstream\[0\]\.sha256: expected a sha256 pin of scaler.py"):
        prepare_run(digits_suite)
    sha = hashlib.sha256((digits_suite.parent / "scaler.py").read_bytes()).hexdigest()
    edit_suite(digits_suite, upstream=[{"name": "scaler", "module": "scaler.py:transform", "sha256": sha}])
    assert prepare_run(digits_suite).models[0].fingerprint


def test_an_installed_module_pin_is_optional_and_checked_when_given(tmp_path: Path) -> None:
    import statistics

    unpinned = ModelSpec(name="m", format="callable", module="statistics:mean")
    assert verify_code(unpinned, tmp_path) is None
    real = hashlib.sha256(Path(statistics.__file__).read_bytes()).hexdigest()
    assert verify_code(unpinned.model_copy(update={"module_sha256": real}), tmp_path) == Path(statistics.__file__)
    with pytest.raises(ChecksumError, match="model m: module_sha256: expected 0000"):
        verify_code(unpinned.model_copy(update={"module_sha256": "0" * 64}), tmp_path)


def test_a_pinned_module_file_that_is_gone_is_refused(digits_suite: Path) -> None:
    (digits_suite.parent / "model.py").unlink()
    with pytest.raises(ChecksumError, match=r"models\[0\]\.module_sha256: expected the module file .*model.py, got none"):
        prepare_run(digits_suite)


def test_module_sha256_needs_a_module(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="module_sha256 pins a module file: give module too"):
        ModelSpec(name="m", format="torchscript", path="m.pt", sha256="0" * 64, module_sha256="0" * 64)
