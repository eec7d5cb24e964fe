"""Throughput of workers/ inference against a plain in-process torch loop.

Same model (MLP 64→512→512→10, random init, fixed seed), same rows, same cores:
plain torch with 2 threads against an InferencePool of 2 actors × 1 CPU (warm:
actor start is timed separately). ``--ray-data`` also times Ray Data's
``map_batches`` with a callable class, actor start included, since Ray Data
starts its actors for every execution.

Usage:
    PYTHONPATH=$PWD python bench/inference.py [--rows 200000] [--ray-data]
    PYTHONPATH=$PWD python bench/inference.py --device cuda [--precisions fp32 bf16]

On a CPU the last line is ``ratio_vs_plain_torch: X.XX`` (pool rows/s over plain rows/s).
``--device cuda`` runs ``bench/inference_cuda.py`` instead (the MLP and ResNet-18 against a
tuned torch loop, fp32 and bf16) and ends with ``ratio_vs_tuned_torch: X.XX``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from suite.spec import ModelSpec, WorkersSpec
from workers.checksum import sha256_file
from workers.cluster import ensure_ray
from workers.pool import InferencePool
from workers.predictor import Predictor


def build_model(folder: Path, seed: int = 0) -> Path:
    """Script the MLP with a fixed seed and save it as TorchScript."""
    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    ).eval()
    path = folder / "mlp.pt"
    torch.jit.script(mlp).save(str(path))
    return path


def plain_torch(path: Path, features: np.ndarray, batch_size: int, device: str) -> np.ndarray:
    """The baseline: one process, torch's own threads, softmax per batch."""
    module = torch.jit.load(str(path), map_location=device).eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(features), batch_size):
            x = torch.from_numpy(features[start : start + batch_size]).to(device)
            out.append(torch.softmax(module(x), dim=1).cpu().numpy())
    return np.concatenate(out)


def timed(fn):
    """Seconds one call of ``fn`` takes, and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


class _RayDataPredictor:
    """Ray Data's idiom: a callable class that loads once per actor."""

    def __init__(self, spec: ModelSpec, base_dir: Path) -> None:
        self.predictor = Predictor(spec, base_dir, task="classification", num_classes=10, num_threads=1)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"scores": self.predictor(batch["data"])}


def ray_data(spec: ModelSpec, base_dir: Path, features: np.ndarray, num_gpus: float) -> np.ndarray:
    """Score with ``map_batches`` over 2 actors (benchmark only; the product uses workers.pool)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    blocks = [features[s : s + spec.batch_size] for s in range(0, len(features), spec.batch_size)]
    ds = ray.data.from_numpy(blocks).map_batches(
        _RayDataPredictor,
        fn_constructor_kwargs={"spec": spec, "base_dir": base_dir},
        batch_size=spec.batch_size,
        batch_format="numpy",
        concurrency=2,
        num_cpus=1,
        num_gpus=num_gpus,
    )
    return np.concatenate([b["scores"] for b in ds.iter_batches(batch_size=None, batch_format="numpy")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=None, help="MLP rows (default 200,000; on cuda 4,000,000 and 16,000,000)")
    parser.add_argument("--batch-size", type=int, default=None, help="MLP batch (default 8,192; 65,536 on cuda)")
    parser.add_argument("--images", type=int, default=4096, help="cuda: ResNet-18 images")
    parser.add_argument("--image-batch", type=int, default=256, help="cuda: ResNet-18 batch")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "tf32", "bf16", "fp16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--pool-config", default=None,
                        help="cuda: the pool's GPU knobs as JSON (bench/gpu_sweep.py --best-config writes it); default: the pool's defaults")
    parser.add_argument("--ray-data", action="store_true", help="also time Ray Data map_batches")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("bench --device cuda: expected a CUDA GPU, but torch.cuda.is_available() is False")
    if args.device == "cuda":
        import inference_cuda  # bench/ is on sys.path when this file runs as a script

        args.rows, args.batch_size = args.rows or [4_000_000, 16_000_000], args.batch_size or 65_536
        with tempfile.TemporaryDirectory() as tmp:
            ratio = inference_cuda.run(args, Path(tmp))
        print(f"ratio_vs_tuned_torch: {ratio:.2f}")
        return
    if args.rows and len(args.rows) > 1:
        parser.error("--rows: one size on a CPU")
    args.rows, args.batch_size = args.rows[0] if args.rows else 200_000, args.batch_size or 8192

    features = np.random.default_rng(0).standard_normal((args.rows, 64), dtype=np.float32)
    ids = np.arange(args.rows, dtype=np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = build_model(folder)
        spec = ModelSpec(
            name="mlp", format="torchscript", path=str(path), sha256=sha256_file(path),
            device=args.device, batch_size=args.batch_size,
        )  # fmt: skip
        torch.set_num_threads(2)
        start = time.perf_counter()
        ensure_ray(None, num_cpus=2, num_gpus=None if args.device == "cuda" else 0)
        print(f"ray start: {time.perf_counter() - start:.2f} s")
        workers = WorkersSpec(num_actors=2, cpus_per_actor=1, gpus_per_actor=0.5)
        start = time.perf_counter()
        pool = InferencePool(spec, folder, task="classification", num_classes=10, workers=workers, name_prefix="bench")
        print(f"actor start (2 actors, model loaded): {time.perf_counter() - start:.2f} s")
        plain_torch(path, features[: args.batch_size], args.batch_size, args.device)  # warm-up
        pool.predict(features[: 2 * args.batch_size], ids[: 2 * args.batch_size])  # warm-up
        # Alternate the two so both see the same background load on a shared machine.
        plain_s, pool_s = [], []
        for _ in range(args.repeats):
            seconds, expected = timed(lambda: plain_torch(path, features, args.batch_size, args.device))
            plain_s.append(seconds)
            seconds, scores = timed(lambda: pool.predict(features, ids))
            pool_s.append(seconds)
            assert np.allclose(scores, expected, atol=1e-5), "pool scores differ from plain torch"
        pool.close()
        plain_rate, pool_rate = args.rows / statistics.median(plain_s), args.rows / statistics.median(pool_s)
        print(f"plain torch (2 threads, {args.device}): {plain_rate:,.0f} rows/s (median of {args.repeats})")
        print(f"InferencePool (2 actors x 1 CPU, warm): {pool_rate:,.0f} rows/s (median of {args.repeats})")

        if args.ray_data:
            data_s = []
            for _ in range(args.repeats):
                seconds, data_scores = timed(lambda: ray_data(spec, folder, features, 0.5 if args.device == "cuda" else 0))
                data_s.append(seconds)
                assert np.allclose(data_scores, expected, atol=1e-5), "Ray Data scores differ from plain torch"
            data_s = statistics.median(data_s)
            print(f"Ray Data map_batches (2 actors x 1 CPU, start included): {args.rows / data_s:,.0f} rows/s (median {data_s:.2f} s)")
            print(f"ray_data_ratio_vs_plain_torch: {args.rows / data_s / plain_rate:.2f}")
    print(f"ratio_vs_plain_torch: {pool_rate / plain_rate:.2f}")


if __name__ == "__main__":
    main()
