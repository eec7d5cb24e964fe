"""Train the breast-cancer example's models deterministically, if missing.

The candidate is a scikit-learn ``HistGradientBoostingClassifier`` (it handles
missing values natively) saved with skops; the baseline is a torch MLP saved as
a ``state_dict``. Both train on the fixed training split of scikit-learn's
bundled breast-cancer data (no download). A fresh training updates the sha256
pins in ``suite.yaml`` when the bytes differ.

Usage: ``python examples/breast_cancer/train.py [--force] [--quiet]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent), str(HERE)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from model import CancerMLP  # noqa: E402
from torch import nn  # noqa: E402

from checkpoint_pins import pin_checkpoint, pin_module  # noqa: E402

from storage.datasets import DATASET_LOADERS  # noqa: E402

CHECKPOINTS = HERE / "checkpoints"


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the fixed training split."""
    frame = DATASET_LOADERS.get("sklearn.breast_cancer")("train")
    features = [c for c in frame.columns if c not in ("sample_id", "label")]
    return frame[features].to_numpy(dtype=np.float32), frame["label"].to_numpy()


def train_boosting(path: Path) -> None:
    """Fit and save the candidate with skops."""
    import skops.io as sio
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = training_data()
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.1, random_state=0).fit(x, y)
    sio.dump(model, path)


def train_mlp(path: Path) -> None:
    """Fit and save the baseline's state_dict."""
    x, y = training_data()
    torch.manual_seed(3)
    model = CancerMLP()
    model.mean.copy_(torch.tensor(x.mean(axis=0)))
    model.std.copy_(torch.tensor(x.std(axis=0) + 1e-6))
    xs, ys = torch.tensor(x), torch.tensor(y, dtype=torch.long)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(3)
    for _ in range(40):
        for idx in torch.randperm(len(xs), generator=generator).split(32):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(xs[idx]), ys[idx]).backward()
            optimiser.step()
    torch.save(model.eval().state_dict(), path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="retrain even if checkpoints exist")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    CHECKPOINTS.mkdir(exist_ok=True)
    for name, train in (("boosting.skops", train_boosting), ("mlp.pt", train_mlp)):
        path = CHECKPOINTS / name
        if args.force or not path.exists():
            tmp = path.with_name(f".{name}.tmp")
            train(tmp)
            tmp.replace(path)
        pin_checkpoint(HERE / "suite.yaml", f"checkpoints/{name}", path, args.quiet)
    pin_module(HERE / "suite.yaml", HERE / "model.py", args.quiet)


if __name__ == "__main__":
    main()
