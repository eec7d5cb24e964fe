"""Metric parity of each model precision with fp32, on the device given (the test's check, without pytest).

The MLP 64→512→512→10 (seeded) scores rows whose labels are its own fp32 argmax with 10% flipped;
each precision must keep accuracy within 1 point, log loss within 2% (relative) and every
probability within 0.02 of fp32 (tests/workers/test_device.py states the same tolerances).

Usage:
    PYTHONPATH=$PWD python bench/precision_parity.py [--device cuda] [--rows 100000]

The last line is ``precision_parity: ok`` or ``precision_parity: FAIL (...)``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import accuracy_score, log_loss

from suite.spec import ModelSpec
from workers.checksum import sha256_file
from workers.predictor import Predictor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    ).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.rows, 64), dtype=np.float32)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "mlp.pt"
        torch.jit.script(mlp).save(str(path))

        def scores(precision: str) -> np.ndarray:
            spec = ModelSpec(name=f"mlp-{precision}", format="torchscript", path=path.name, sha256=sha256_file(path),
                             device=args.device, batch_size=8192, precision=precision)
            predictor = Predictor(spec, Path(tmp), task="classification", num_classes=10)
            if predictor.device != args.device:
                raise SystemExit(f"precision_parity: expected the model on {args.device}, got {predictor.device}")
            return predictor(x)

        exact = scores("fp32")
        y = exact.argmax(axis=1)
        flip = rng.random(len(y)) < 0.1
        y[flip] = rng.integers(0, 10, flip.sum())
        acc0, loss0 = accuracy_score(y, exact.argmax(1)), log_loss(y, exact, labels=range(10))
        print(f"fp32: accuracy {acc0:.4f}, log loss {loss0:.5f} ({args.device}, {args.rows:,} rows)")
        for precision in ("tf32", "bf16", "fp16"):
            try:
                reduced = scores(precision)
            except RuntimeError as exc:
                print(f"{precision}: skipped, torch {torch.__version__} cannot run it on {args.device}: {exc}")
                continue
            acc, loss = accuracy_score(y, reduced.argmax(1)), log_loss(y, reduced, labels=range(10))
            worst = float(np.abs(reduced - exact).max())
            ok = abs(acc - acc0) <= 0.01 and abs(loss / loss0 - 1) <= 0.02 and worst <= 0.02
            print(f"{precision}: accuracy {acc:.4f} ({acc - acc0:+.4f}), log loss {loss:.5f} ({loss / loss0 - 1:+.2%}),"
                  f" max |p - p_fp32| {worst:.2e}, identical to fp32: {np.array_equal(reduced, exact)} -> {'ok' if ok else 'FAIL'}")
            if not ok:
                failures.append(precision)
    print(f"precision_parity: {'ok' if not failures else 'FAIL (' + ', '.join(failures) + ')'}")


if __name__ == "__main__":
    main()
