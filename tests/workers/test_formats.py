from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from suite.errors import ChecksumError, VigilError
from suite.spec import ModelSpec
from tests.workers.conftest import CALLABLE_FILE, linear, pinned
from workers.checksum import sha256_file, verify_model
from workers.formats import MODEL_FORMATS
from workers.predictor import Predictor


def softmax_of_linear(features: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.softmax(linear()(torch.from_numpy(features)), dim=1).numpy()


def test_registry_lists_every_format() -> None:
    assert MODEL_FORMATS.names() == ["callable", "skops", "torch_state_dict", "torchscript"]
    with pytest.raises(VigilError, match="did you mean 'torchscript'"):
        MODEL_FORMATS.get("torchscrip")


def test_torchscript_predicts_softmax_of_logits(tmp_path: Path, torchscript_spec: ModelSpec, features: np.ndarray) -> None:
    scores = Predictor(torchscript_spec, tmp_path, task="classification", num_classes=3)(features)
    assert scores.dtype == np.float32 and scores.shape == (300, 3)
    np.testing.assert_allclose(scores, softmax_of_linear(features), atol=1e-6)


def test_state_dict_with_module_file(tmp_path: Path, state_dict_spec: ModelSpec, features: np.ndarray) -> None:
    scores = Predictor(state_dict_spec, tmp_path, task="classification", num_classes=3, num_threads=1)(features)
    np.testing.assert_allclose(scores, softmax_of_linear(features), atol=1e-6)


def test_state_dict_that_does_not_fit_the_class_is_refused(tmp_path: Path, state_dict_spec: ModelSpec) -> None:
    spec = state_dict_spec.model_copy(update={"init_args": {"inputs": 5, "classes": 3}})
    with pytest.raises(VigilError, match="does not fit nets/tiny.py:TinyNet"):
        Predictor(spec, tmp_path, task="classification", num_classes=3)


def test_labels_output_becomes_one_hot(tmp_path: Path, torchscript_spec: ModelSpec, features: np.ndarray) -> None:
    class ArgMax(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :3].argmax(dim=1)

    path = tmp_path / "argmax.pt"
    torch.jit.script(ArgMax()).save(str(path))
    spec = pinned("am", "torchscript", path, output="labels")
    scores = Predictor(spec, tmp_path, task="classification", num_classes=4)(features)
    assert scores.shape == (300, 4)
    np.testing.assert_array_equal(scores.argmax(axis=1), features[:, :3].argmax(axis=1))
    np.testing.assert_array_equal(scores.sum(axis=1), np.ones(300))


def test_skops_logistic_regression_uses_predict_proba(tmp_path: Path, features: np.ndarray) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    labels = (features[:, 0] + features[:, 1] > 0).astype(int) + (features[:, 2] > 1).astype(int)
    model = LogisticRegression(max_iter=500).fit(features, labels)
    path = tmp_path / "lr.skops"
    sio.dump(model, path)
    predictor = Predictor(pinned("lr", "skops", path), tmp_path, task="classification", num_classes=3)
    expected = model.predict_proba(features).astype(np.float32)
    np.testing.assert_allclose(predictor(features), expected, rtol=1e-6)
    np.testing.assert_allclose(predictor(pd.DataFrame(features, columns=list("abcd"))), expected, rtol=1e-6)


def test_skops_frame_input_keeps_column_names(tmp_path: Path, features: np.ndarray) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame(features, columns=list("abcd"))
    model = LogisticRegression().fit(frame, (features[:, 3] > 0).astype(int))
    path = tmp_path / "framed.skops"
    sio.dump(model, path)
    predictor = Predictor(pinned("fr", "skops", path, input="frame"), tmp_path, task="classification", num_classes=2)
    np.testing.assert_allclose(predictor(frame), model.predict_proba(frame).astype(np.float32), rtol=1e-6)
    with pytest.raises(ValueError, match="feature names"):  # only a frame carries names for sklearn to check
        predictor(frame[["d", "c", "b", "a"]])


def test_skops_regression_uses_predict(tmp_path: Path, features: np.ndarray) -> None:
    import skops.io as sio
    from sklearn.linear_model import Ridge

    target = features @ np.array([1.0, -2.0, 0.5, 3.0])
    model = Ridge().fit(features, target)
    path = tmp_path / "ridge.skops"
    sio.dump(model, path)
    values = Predictor(pinned("ridge", "skops", path), tmp_path, task="regression", num_classes=None)(features)
    assert values.shape == (300,)
    np.testing.assert_allclose(values, model.predict(features), rtol=1e-5)


def test_skops_refuses_types_outside_sklearn_and_numpy(tmp_path: Path, features: np.ndarray) -> None:
    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression

    labels = (features[:, 0] > 0).astype(int)
    pipeline = make_pipeline(FunctionTransformer(Path), LogisticRegression())
    pipeline.steps[1][1].fit(features, labels)
    path = tmp_path / "odd.skops"
    sio.dump(pipeline, path)
    with pytest.raises(VigilError, match=r"refusing to load types outside sklearn/numpy: .*pathlib"):
        Predictor(pinned("odd", "skops", path), tmp_path, task="classification", num_classes=2)


def test_callable_from_a_file(tmp_path: Path, features: np.ndarray) -> None:
    (tmp_path / "rule.py").write_text(CALLABLE_FILE)
    spec = ModelSpec(name="rule", format="callable", module="rule.py:half_and_half", batch_size=50)
    scores = Predictor(spec, tmp_path, task="classification", num_classes=2)(features)
    positive = 1.0 / (1.0 + np.exp(-features[:, 0].astype(np.float64)))
    np.testing.assert_allclose(scores[:, 1], positive, rtol=1e-6)


def test_callable_from_a_package(tmp_path: Path) -> None:
    spec = ModelSpec(name="neg", format="callable", module="numpy:negative")
    values = Predictor(spec, tmp_path, task="regression", num_classes=None)(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(values, [-1.0, 2.0])


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    path = tmp_path / "blob"
    data = np.random.default_rng(0).bytes(3 * (1 << 20) + 17)
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_checksum_mismatch_is_refused_before_loading(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    (tmp_path / "linear.pt").write_bytes(b"not a model")  # loading this would raise a torch error instead
    with pytest.raises(ChecksumError) as caught:
        Predictor(torchscript_spec, tmp_path, task="classification", num_classes=3)
    pinned12, actual12 = torchscript_spec.sha256[:12], sha256_file(tmp_path / "linear.pt")[:12]
    assert str(caught.value) == (
        f"model ts: checkpoint {tmp_path / 'linear.pt'}: sha256 mismatch (suite pins {pinned12}…, file has {actual12}…)"
    )


def test_missing_checkpoint_is_refused(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    (tmp_path / "linear.pt").unlink()
    with pytest.raises(ChecksumError, match=r"^model ts: checkpoint .*linear\.pt not found$"):
        verify_model(torchscript_spec, tmp_path)


def test_cuda_request_falls_back_to_cpu_without_cuda(tmp_path: Path, torchscript_spec: ModelSpec, features: np.ndarray) -> None:
    spec = torchscript_spec.model_copy(update={"device": "cuda"})
    predictor = Predictor(spec, tmp_path, task="classification", num_classes=3)
    assert predictor.device == ("cuda" if torch.cuda.is_available() else "cpu")
    np.testing.assert_allclose(predictor(features), softmax_of_linear(features), atol=1e-5)
