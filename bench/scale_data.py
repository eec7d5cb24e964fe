"""The inputs of ``bench/scale.py``: a seeded table written in chunks, an MLP that half-knows it, and a suite over both.

The table has 64 float32 features ``f0..f63``, a ``segment`` slice column with 4
values, a ``sample_id`` and a 10-class ``label`` drawn from ``softmax(s · X·L)``
(a fixed random linear map ``L``, scaled by a per-segment signal ``s`` of
1, 0.8, 0.6 or 0.4), so accuracy, log loss, ROC AUC and calibration all have
something to measure and differ by slice. It is written in row groups of
``chunk_rows`` with ``pyarrow.parquet.ParquetWriter``: the writer holds one chunk
(128k rows × 64 columns is 32 MB), never the whole table.

The model is ``bench/inference.py``'s MLP 64→512→512→10 (seeded torch init, so it costs
the same per row), with 20 of its hidden units set so that its logits are exactly
``X·L``: calibrated on segment ``a``, over-confident on the others.

Example:
    >>> import tempfile; from pathlib import Path
    >>> suite = write_bench(Path(tempfile.mkdtemp()), rows=300, chunk_rows=128)
    >>> suite.name
    'scale-300.yaml'
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from storage.checksums import sha256_file  # the suite pins its data and checkpoint

FEATURES = [f"f{j}" for j in range(64)]
SEGMENTS = ("a", "b", "c", "d")
SEGMENT_SIGNAL = np.array([1.0, 0.8, 0.6, 0.4], dtype=np.float32)
CLASSES = 10
METRICS = ["accuracy", "macro_f1", "log_loss", "roc_auc", "ece"]
GAIN = 2.5  # the std of each true logit on segment a: accuracy about 0.6 there


def linear_map(seed: int = 0) -> np.ndarray:
    """The fixed ``(64, 10)`` map from features to true logits, std ``GAIN`` per logit for standard normal rows."""
    return (np.random.default_rng(seed).standard_normal((len(FEATURES), CLASSES)) * (GAIN / np.sqrt(len(FEATURES)))).astype(np.float32)


def table_chunk(start: int, rows: int, weights: np.ndarray, seed: int = 0) -> pa.Table:
    """Rows ``start .. start+rows`` of the table; the chunk's own generator is seeded by (seed, start), so any chunk can be remade alone."""
    rng = np.random.default_rng([seed, start])
    features = rng.standard_normal((rows, len(FEATURES)), dtype=np.float32)
    segment = rng.integers(0, len(SEGMENTS), rows)
    logits = (features @ weights) * SEGMENT_SIGNAL[segment, None]
    label = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)  # Gumbel-max: label ~ softmax(logits)
    columns = {"sample_id": pa.array(np.arange(start, start + rows, dtype=np.int64))}
    by_column = np.ascontiguousarray(features.T)  # one copy, then each column is a zero-copy view
    columns.update({name: pa.array(by_column[j]) for j, name in enumerate(FEATURES)})
    columns["segment"] = pa.array(SEGMENTS).take(pa.array(segment))  # strings without a Python object per row
    columns["label"] = pa.array(label.astype(np.int64))
    return pa.table(columns)


def write_table(path: Path, rows: int, weights: np.ndarray, seed: int = 0, chunk_rows: int = 131_072) -> str:
    """Write ``rows`` rows to Parquet one row group of ``chunk_rows`` at a time; returns the file's sha256."""
    if rows < 1 or chunk_rows < 1:
        raise ValueError(f"write_table: expected rows and chunk_rows >= 1, got rows={rows}, chunk_rows={chunk_rows}")
    with pq.ParquetWriter(path, table_chunk(0, 1, weights, seed).schema) as writer:
        for start in range(0, rows, chunk_rows):
            writer.write_table(table_chunk(start, min(chunk_rows, rows - start), weights, seed), row_group_size=chunk_rows)
    return sha256_file(path)


def write_model(path: Path, weights: np.ndarray, seed: int = 0) -> str:
    """Save the MLP as TorchScript with logits ``X·weights``; returns its sha256.

    Hidden units 0-9 of the first layer hold ``relu(X·L)`` and 10-19 ``relu(-X·L)``;
    the second layer passes those 20 through and the last subtracts them. The
    other 492 units keep their seeded random weights and feed nothing, so the
    work per row is the MLP's.
    """
    import torch

    torch.manual_seed(seed)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    ).eval()
    first, second, last = mlp[0], mlp[2], mlp[4]
    linear = torch.from_numpy(weights.T.copy())
    eye = torch.eye(CLASSES)
    with torch.no_grad():
        first.weight[:CLASSES], first.weight[CLASSES : 2 * CLASSES] = linear, -linear
        first.bias[: 2 * CLASSES] = 0
        second.weight[: 2 * CLASSES] = 0
        second.weight[: 2 * CLASSES, : 2 * CLASSES] = torch.eye(2 * CLASSES)
        second.bias[: 2 * CLASSES] = 0
        last.weight.zero_()
        last.weight[:, :CLASSES], last.weight[:, CLASSES : 2 * CLASSES] = eye, -eye
        last.bias.zero_()
    torch.jit.script(mlp).save(str(path))
    return sha256_file(path)


BASELINE_GATES = [
    {"metric": "accuracy", "max_drop_vs": "baseline", "max_drop": 0.01, "significance": 0.05},
    {"metric": "accuracy", "per_slice": True, "max_drop_vs": "baseline", "max_drop": 0.02, "significance": 0.05},
    {"metric": "log_loss", "max_drop_vs": "baseline", "max_drop": 0.05, "significance": 0.05},
    {"metric": "roc_auc", "max_drop_vs": "baseline", "max_drop": 0.01, "significance": 0.05},
]
"""``--baseline``: paired gates of each kind (cell tables with McNemar, normal sums, DeLong), overall and per slice."""


def suite_document(name: str, table: str, table_sha256: str, model: str, model_sha256: str, batch_size: int = 8192,
                   baseline: tuple[str, str] | None = None) -> dict:
    """The issue's setting: five metrics, one slice, 1000 bootstrap resamples, 2 actors × 1 CPU, no drift, no perturbations.

    ``baseline`` (its file and sha256) adds a second MLP as the baseline and :data:`BASELINE_GATES`.
    """
    document = _suite_document(name, table, table_sha256, model, model_sha256, batch_size)
    if baseline is not None:
        document["models"].append({**document["models"][0], "name": "baseline", "role": "baseline", "path": baseline[0], "sha256": baseline[1]})
        document["gates"] = BASELINE_GATES
    return document


def _suite_document(name: str, table: str, table_sha256: str, model: str, model_sha256: str, batch_size: int) -> dict:
    return {
        "name": name,
        "description": "bench/scale.py: seeded 64-feature table, MLP 64-512-512-10",
        "task": "classification",
        "classes": list(range(CLASSES)),
        "seed": 0,
        "models": [{"name": "mlp", "format": "torchscript", "path": model, "sha256": model_sha256, "output": "logits", "batch_size": batch_size}],
        "datasets": [{"name": "table", "path": table, "sha256": table_sha256, "label": "label", "id_column": "sample_id", "features": FEATURES}],
        "metrics": METRICS,
        "slices": [{"column": "segment"}],
        "bootstrap": {"resamples": 1000},
        "workers": {"num_actors": 2, "cpus_per_actor": 1},
    }


def size_name(rows: int) -> str:
    """``100k``, ``1M``, ``10M`` or the plain count: the name a size has in file names and summary lines."""
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if rows >= scale and rows % scale == 0:
            return f"{rows // scale}{unit}"
    return str(rows)


def write_bench(folder: Path, rows: int, seed: int = 0, chunk_rows: int = 131_072, baseline: bool = False) -> Path:
    """Write the table, the model (once per folder) and the suite for ``rows`` rows into ``folder``; returns the suite's path.

    ``baseline``: also a baseline MLP (its map a blend with another seed's: close to the candidate, a little worse) and paired gates.
    """
    folder.mkdir(parents=True, exist_ok=True)
    weights = linear_map(seed)
    model = folder / "mlp.pt"
    model_sha = write_model(model, weights, seed) if not model.exists() else sha256_file(model)
    other = None
    if baseline:
        path = folder / "mlp-baseline.pt"
        blend = (0.9 * weights + 0.3 * linear_map(seed + 1)).astype(np.float32)
        other = (path.name, write_model(path, blend, seed) if not path.exists() else sha256_file(path))
    size = size_name(rows)
    table = folder / f"table-{size}.parquet"
    table_sha = write_table(table, rows, weights, seed, chunk_rows)
    name = f"scale-{size}" + ("-baseline" if baseline else "")
    suite = folder / f"{name}.yaml"
    suite.write_text(yaml.safe_dump(suite_document(name, table.name, table_sha, model.name, model_sha, baseline=other),
                                    sort_keys=False, default_flow_style=None))
    return suite
