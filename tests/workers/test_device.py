"""The device data path on a CPU: StreamedModel, precision parity, row files, one actor per (simulated) GPU."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from sklearn.metrics import accuracy_score, log_loss

from suite.errors import VigilError
from suite.spec import ModelSpec, WorkersSpec
from tests.conftest import start_session_ray
from workers.checksum import sha256_file
from workers.device import StreamedModel, parallel_copy
from workers.pool import InferencePool
from workers.warm_pools import close_pools
from workers.predictor import Predictor
from workers.row_files import RowFile, write_rows

CUDA = torch.cuda.is_available()


@pytest.fixture(scope="module")
def two_gpu_ray():
    """A local Ray that reports 2 GPUs on a GPU-less machine: placement is real, compute falls back to the CPU."""
    close_pools()
    ray.shutdown()
    ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, log_to_driver=False)
    yield
    close_pools()
    ray.shutdown()
    start_session_ray()  # the later modules' (their address changes: session_services gives the new one)


def mlp_spec(folder: Path, **extra) -> ModelSpec:
    """A scripted MLP whose fp32 argmax is the label of the rows :func:`labelled` makes."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 5)).eval()
    path = folder / "mlp.pt"
    torch.jit.script(mlp).save(str(path))
    return ModelSpec(name="mlp", format="torchscript", path=path.name, sha256=sha256_file(path), batch_size=256, **extra)


def labelled(folder: Path, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Rows and labels: the fp32 model's argmax with 10% of labels flipped, so metrics are not trivially perfect."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    y = Predictor(mlp_spec(folder), folder, task="classification", num_classes=5)(x).argmax(axis=1)
    flip = rng.random(n) < 0.1
    y[flip] = rng.integers(0, 5, flip.sum())
    return x, y


def test_streamed_model_on_cpu_equals_the_module_with_softmax() -> None:
    torch.manual_seed(1)
    module = torch.nn.Linear(4, 3).eval()
    x = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    streamed = StreamedModel(module, "cpu", "fp32", batch_size=3, softmax=True)
    with torch.inference_mode():
        expected = torch.softmax(module(torch.from_numpy(x)), dim=1).numpy()
    np.testing.assert_allclose(streamed(x), expected, rtol=1e-6)
    np.testing.assert_allclose(streamed(x.astype(np.float64)), expected, rtol=1e-6)  # cast to float32 on the host
    assert streamed.busy_seconds() == 0.0  # no device timing on a CPU


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match=r"precision: expected one of \('fp32', 'tf32', 'bf16', 'fp16'\), got 'int8'"):
        StreamedModel(torch.nn.Linear(2, 2), "cpu", "int8", batch_size=2, softmax=False)


# Parity with fp32, stated: accuracy within 1 point, log loss within 2% (relative), every probability within 0.02.
# bf16 keeps 8 significant bits (~0.4% relative error per value); fp16 11; TF32 is fp32 on a CPU.
@pytest.mark.parametrize("precision", ["tf32", "bf16", "fp16"])
def test_reduced_precision_keeps_metric_parity_with_fp32(precision: str, tmp_path: Path) -> None:
    x, y = labelled(tmp_path)
    device = "cuda" if CUDA else "cpu"
    exact = Predictor(mlp_spec(tmp_path, device=device), tmp_path, task="classification", num_classes=5)(x)
    try:
        reduced = Predictor(mlp_spec(tmp_path, device=device, precision=precision), tmp_path, task="classification", num_classes=5)(x)
    except RuntimeError as exc:  # an older torch without this autocast dtype on this device
        pytest.skip(f"torch {torch.__version__} cannot autocast to {precision} on {device}: {exc}")
    assert abs(accuracy_score(y, reduced.argmax(1)) - accuracy_score(y, exact.argmax(1))) <= 0.01
    assert abs(log_loss(y, reduced, labels=range(5)) / log_loss(y, exact, labels=range(5)) - 1) <= 0.02
    assert np.abs(reduced - exact).max() <= 0.02
    if precision != "tf32" or CUDA:
        assert not np.array_equal(reduced, exact), f"{precision} computed exactly like fp32: autocast was not applied"


def test_precision_is_part_of_the_prediction_fingerprint_only_when_not_fp32(tmp_path: Path) -> None:
    spec = mlp_spec(tmp_path)
    assert "precision" not in spec.model_dump(mode="json")  # existing suites keep their fingerprint
    assert spec.model_copy(update={"precision": "bf16"}).model_dump(mode="json")["precision"] == "bf16"


@pytest.mark.parametrize("suffix", [".arrow", ".parquet"])
def test_actors_read_their_own_row_ranges_from_a_file(suffix: str, tmp_path: Path, two_gpu_ray: None) -> None:
    x, _ = labelled(tmp_path, 2000)
    rows = write_rows(tmp_path / f"rows{suffix}", x, row_group_rows=300)
    spec = mlp_spec(tmp_path)
    expected = Predictor(spec, tmp_path, task="classification", num_classes=5)(x)
    ids = np.arange(len(x), dtype=np.int64)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=5, workers=WorkersSpec(num_actors=2),
                         name_prefix="t", shard_rows=700)
    try:
        # shards of 700 rows cut batches differently from one in-process call: equal up to rounding
        pool.timings(reset=True)
        np.testing.assert_allclose(pool.predict(rows, ids), expected, rtol=1e-5, atol=1e-6)
        assert pool._last_shards is None  # nothing was put in the object store
        times = pool.timings(reset=True)
        assert times["calls"] == 3 and times["call"] > 0 and times["gather"] > 0 and times["busy"] == 0.0
        assert times["fill"] == 0 and times["write"] == 0  # on a CPU: no staging buffers, scores through the object store
        assert pool.timings()["calls"] == 0
        shifted = pool.predict(rows, ids, transform=_Shift())
        np.testing.assert_allclose(shifted, Predictor(spec, tmp_path, task="classification", num_classes=5)(x + 0.5), rtol=1e-5, atol=1e-6)
    finally:
        pool.close()


class _Shift:
    def __call__(self, batch: np.ndarray, sample_ids: np.ndarray) -> np.ndarray:
        assert len(sample_ids) == len(batch)
        return batch + np.float32(0.5)


@pytest.mark.parametrize("shape", [(16,), (3, 4, 5)])
def test_parallel_copy_cuts_rows_into_slices_of_at_least_a_mebibyte(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(2)
    values = rng.standard_normal((30_000, *shape)).astype(np.float32) if len(shape) == 1 else rng.integers(0, 256, (900, *shape), dtype=np.uint8)
    out = np.zeros_like(values)
    with ThreadPoolExecutor(3) as threads:  # 1.9 MB of floats: two slices; 54 KB of bytes: one
        parallel_copy(out, values, threads, parts=3)
    np.testing.assert_array_equal(out, values)
    parallel_copy(out[:5], values[5:10], None, parts=4)
    np.testing.assert_array_equal(out[:5], values[5:10])


def test_streamed_model_copies_with_the_threads_torch_was_given() -> None:
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        streamed = StreamedModel(torch.nn.Linear(16, 3).eval(), "cpu", "fp32", batch_size=256, softmax=True)
        assert streamed.copy_threads == 2
        values = np.random.default_rng(0).standard_normal((40_000, 16)).astype(np.float32)
        out = np.empty_like(values)
        streamed.copy(out, values)
        np.testing.assert_array_equal(out, values)
        x = values[:1000]
        assert streamed(x, lambda scores: scores.shape) == (1000, 3)  # a sink gets the scores, its value is returned
        assert streamed.stage_seconds()["calls"] == 1
    finally:
        torch.set_num_threads(threads)


def test_a_row_file_refuses_an_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(VigilError, match=r"row file .*bad.parquet: cannot read it as Parquet"):
        RowFile(str(tmp_path / "bad.parquet"), 1).read(0, 1)


def test_a_cuda_model_gets_one_actor_per_gpu_unless_fractions_are_asked(tmp_path: Path, two_gpu_ray: None) -> None:
    spec = mlp_spec(tmp_path, device="cuda", precision="bf16")
    x, _ = labelled(tmp_path, 1500)
    expected = Predictor(spec, tmp_path, task="classification", num_classes=5)(x)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=5, workers=WorkersSpec(), name_prefix="t")
    try:
        placements = pool.placements()
        assert sorted(g for p in placements for g in p["gpu_ids"]) == ["0", "1"]  # 2 GPUs → 2 actors, one GPU each
        assert {p["precision"] for p in placements} == {"bf16"} and all(p["node_ip"] for p in placements)
        np.testing.assert_array_equal(pool.predict(x, np.arange(len(x))), expected)
        # 1500 / (2 actors × 8) is below four batches (of 256): shards of four, so each lane's two slots overlap copy and compute
        assert pool._bounds(len(x)) == [(0, 1024), (1024, 1500)]
        assert [b - a for a, b in pool._bounds(1_000_000)][:-1] == [31_488] * 31  # even shards of 1/32 of the rows (2 actors × 16), whole batches
        pool.gpu_guided = True  # guided: 1/32 of the rows left each time, in whole batches, at least four
        bounds = pool._bounds(1_000_000)
        sizes = [b - a for a, b in bounds]
        assert bounds[0][0] == 0 and bounds[-1][1] == 1_000_000 and all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert sizes[0] == 31_488 and all(n % 256 == 0 for n in sizes[:-1]) and sizes == sorted(sizes, reverse=True)
        assert sizes[-2] == 1024  # the GPU's last shards return four batches of scores
        pool.gpu_guided, pool.gpu_taper = False, 4  # even, the last round (one shard per lane: 2 actors × 2) in 4× as many
        sizes = [b - a for a, b in pool._bounds(1_000_000)]
        assert sizes[:28] == [31_488] * 28 and len(sizes) == 28 + 16 and sum(sizes) == 1_000_000
        assert sizes[28:-1] == [7_424] * 15  # (1,000,000 - 28 × 31,488) / 16 in whole batches of 256
        pool.gpu_taper = 1
        np.testing.assert_array_equal(pool.predict(x, np.arange(len(x))), expected)
    finally:
        pool.close()
    halves = WorkersSpec(gpus_per_actor=0.5, cpus_per_actor=0.5)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=5, workers=halves, name_prefix="t")
    try:
        assert len(pool.placements()) == 4  # asked for half a GPU each: 4 actors on 2 GPUs
    finally:
        pool.close()
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=5, workers=WorkersSpec(), name_prefix="t",
                         gpu_calls=1, gpu_shards=2)
    try:
        # one lane computing while one call puts its scores into the object store; 4096 / (2 actors × 2), in whole batches
        assert pool._options["max_concurrency"] == 2 and pool._bounds(4096)[0] == (0, 1024)
        assert pool._bounds(2048) == [(0, 1024), (1024, 2048)]  # 2048 / 4 would be two batches: four each instead
        np.testing.assert_array_equal(pool.predict(x, np.arange(len(x))), expected)
    finally:
        pool.close()
    with pytest.raises(ValueError, match="gpu_calls: expected 1 or 2, got 3"):
        InferencePool(spec, tmp_path, task="classification", num_classes=5, workers=WorkersSpec(), name_prefix="t", gpu_calls=3)


def test_result_buffers_are_taken_back_by_identity_the_smallest_that_fits_first() -> None:
    # (list.remove compared the tensors element by element: on the H100 two buffers of other lengths raised)
    model = StreamedModel(torch.nn.Linear(4, 2).eval(), "cpu", "fp32", batch_size=8, softmax=True, lanes=1)
    big, small, other = torch.zeros((100, 10)), torch.zeros((60, 10)), torch.zeros((200, 3))
    for buffer in (big, small, other, None):
        model._give_result(buffer)
    assert model._take_result(50, (10,)) is small and model._take_result(50, (10,)) is big
    assert model._take_result(150, (3,)) is other and model._results == []
    for _ in range(5):
        model._give_result(torch.zeros((10, 10)))
    model._give_result(big)
    assert len(model._results) == 3 and model._results[0] is big  # two per lane plus one kept, the biggest
