"""``vigil validate`` loads every model as ``vigil run`` would, and refuses what run refuses."""

from __future__ import annotations

import operator
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.evaluate.load_check import load_models
from pipeline.evaluate.prepare import prepare_run
from suite.errors import VigilError
from suite.load import load_suite
from tests.suite_edits import edit_model, repin, write_helper_model
from workers.predictor import Predictor

ROOT = Path(__file__).resolve().parents[2]


def _load(suite: Path) -> list[str]:
    plan = prepare_run(suite)
    return [f"{m.model}:{m.format}" for m in load_models(plan.suite, plan)]


def test_both_examples_load(digits_suite: Path, cancer_suite: Path) -> None:
    assert _load(digits_suite) == ["cnn:torch_state_dict", "mlp:torchscript"]
    assert _load(cancer_suite) == ["boosting:skops", "mlp:torch_state_dict"]


def test_a_pickled_torch_module_is_refused_as_run_refuses_it(digits_suite: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(64, 10), digits_suite.parent / "checkpoints" / "candidate.pt")  # the module, not its state_dict
    repin(digits_suite)
    with pytest.raises(VigilError, match=r"models\[0\] \(cnn\): .*torch.load\(weights_only=True\) refused it: .*Linear"):
        _load(digits_suite)
    spec = load_suite(digits_suite).models[0]
    with pytest.raises(VigilError, match=r"torch.load\(weights_only=True\) refused it"):
        Predictor(spec, digits_suite.parent, task="classification", num_classes=10)  # what run's workers do


def test_a_torchscript_file_that_does_not_load_is_refused(digits_suite: Path) -> None:
    (digits_suite.parent / "checkpoints" / "baseline.pt").write_bytes(b"not a torchscript archive")
    repin(digits_suite)
    with pytest.raises(VigilError, match=r"models\[1\] \(mlp\): .*torch.jit.load cannot load it"):
        _load(digits_suite)


def test_skops_types_outside_sklearn_and_numpy_are_refused(cancer_suite: Path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 30))
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression()).fit(x, (x[:, 0] > 0).astype(int))
    sio.dump(model, cancer_suite.parent / "checkpoints" / "boosting.skops")
    repin(cancer_suite)
    assert "_operator.neg" in sio.get_untrusted_types(file=str(cancer_suite.parent / "checkpoints" / "boosting.skops"))
    with pytest.raises(VigilError, match=r"models\[0\] \(boosting\): .*refusing to load types outside sklearn/numpy: _operator.neg"):
        _load(cancer_suite)


def test_a_module_that_fails_to_import_is_refused(digits_suite: Path) -> None:
    (digits_suite.parent / "broken.py").write_text("RATE = 1 / 0\n\ndef predict(x):\n    return x\n")
    edit_model(digits_suite, "mlp", format="callable", path=None, sha256=None, module="broken.py:predict")
    with pytest.raises(VigilError, match=r"models\[1\] \(mlp\): cannot load \(callable\): ZeroDivisionError: division by zero"):
        _load(digits_suite)


def test_a_module_importing_a_helper_beside_it_loads_and_predicts(digits_suite: Path) -> None:
    original = Predictor(load_suite(digits_suite).models[0], digits_suite.parent, task="classification", num_classes=10)
    write_helper_model(digits_suite, "16.0")
    assert _load(digits_suite) == ["cnn:torch_state_dict", "mlp:torchscript"]
    helped = Predictor(load_suite(digits_suite).models[0], digits_suite.parent, task="classification", num_classes=10)
    x = np.random.default_rng(1).uniform(0, 16, size=(20, 64)).astype(np.float32)
    np.testing.assert_allclose(helped(x), original(x), rtol=1e-6)


@pytest.mark.slow  # `vigil` in a subprocess
def test_vigil_validate_exits_2_with_one_line(digits_suite: Path, tmp_path: Path) -> None:
    import torch

    torch.save(torch.nn.Linear(64, 10), digits_suite.parent / "checkpoints" / "candidate.pt")
    repin(digits_suite)
    env = {**os.environ, "VIGIL_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "cli.main", "validate", str(digits_suite)],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and f"suite {digits_suite}: models[0] (cnn)" in lines[0] and "weights_only=True" in lines[0], result.stderr
