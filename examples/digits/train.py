"""Train the digits example's baseline and candidate deterministically, if missing.

The baseline (an MLP) is saved as TorchScript, the candidate (a CNN) as a
``state_dict``; both train on the fixed training split of scikit-learn's bundled
digits data (no download). The suite pins each checkpoint's sha256: when a
fresh training produces different bytes (another torch build), the pins in
``suite.yaml`` are updated and the change is printed.

Usage: ``python examples/digits/train.py [--force] [--quiet]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent), str(HERE)]

from model import DigitsCNN, DigitsMLP  # noqa: E402

from checkpoint_pins import pin_checkpoint, pin_module  # noqa: E402

from storage.datasets import DATASET_LOADERS  # noqa: E402

CHECKPOINTS = HERE / "checkpoints"


def _train(model: nn.Module, epochs: int, seed: int) -> nn.Module:
    frame = DATASET_LOADERS.get("sklearn.digits")("train")
    x = torch.tensor(frame[[f"pixel_{i}" for i in range(64)]].to_numpy(), dtype=torch.float32)
    y = torch.tensor(frame["label"].to_numpy(), dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=generator).split(64):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimiser.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="retrain even if checkpoints exist")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    CHECKPOINTS.mkdir(exist_ok=True)
    baseline, candidate = CHECKPOINTS / "baseline.pt", CHECKPOINTS / "candidate.pt"
    if args.force or not baseline.exists():
        torch.manual_seed(1)
        scripted = torch.jit.script(_train(DigitsMLP(hidden=32), epochs=6, seed=1))
        scripted.save(str(baseline.with_suffix(".tmp")))
        baseline.with_suffix(".tmp").replace(baseline)
    if args.force or not candidate.exists():
        torch.manual_seed(2)
        state = _train(DigitsCNN(), epochs=8, seed=2).state_dict()
        torch.save(state, candidate.with_suffix(".tmp"))
        candidate.with_suffix(".tmp").replace(candidate)
    for path in (baseline, candidate):
        pin_checkpoint(HERE / "suite.yaml", f"checkpoints/{path.name}", path, args.quiet)
    pin_module(HERE / "suite.yaml", HERE / "model.py", args.quiet)


if __name__ == "__main__":
    main()
