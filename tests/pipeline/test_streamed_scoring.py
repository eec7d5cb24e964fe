"""Stage 3 streams cached predictions through the chunked scorer with per-chunk slice masks.

A real :class:`PredictionCache` Parquet file (float32 scores, int labels) read in small record
batches, in dataset order and shuffled, scores as the whole float64 arrays did before.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluators.chunked import ChunkedScorer
from evaluators.scoring import score_predictions
from evaluators.slices import PackedMasks
from pipeline.evaluate.score import chunk_masks, prediction_chunks
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID
from suite.errors import DataError
from suite.spec import BootstrapSpec

N, K = 30_000, 3


def _cached(tmp_path: Path, order: np.ndarray) -> tuple[PredictionCache, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = np.arange(N, dtype=np.int64) * 7 + 3
    y = rng.choice(K, N, p=[0.5, 0.3, 0.2])
    logits = rng.normal(size=(N, K))
    logits[np.arange(N), y] += 1.0
    p = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    frame = pd.DataFrame({SAMPLE_ID: ids[order], "y_true": y[order], **{f"score_{c}": p[order, c] for c in range(K)}})
    cache = PredictionCache(tmp_path)
    cache.put("key", frame)
    return cache, ids, y, p


@pytest.mark.parametrize("shuffled", [False, True])
def test_streamed_predictions_score_as_the_whole_arrays(tmp_path: Path, shuffled: bool) -> None:
    order = np.random.default_rng(1).permutation(N) if shuffled else np.arange(N)
    cache, ids, y, p = _cached(tmp_path, order)
    masks = {"all": np.ones(N, bool), "odd": ids % 2 == 1, "label 2": y == 2, "none": np.zeros(N, bool)}
    kwargs = dict(task="classification", metric_names=["accuracy", "ece", "roc_auc", "log_loss"],
                  bootstrap=BootstrapSpec(resamples=200), seed=3)
    scorer = ChunkedScorer(**kwargs)  # type: ignore[arg-type]
    at, index = 0, pd.Index(ids)
    for chunk_ids, chunk_y, chunk_scores in prediction_chunks(cache, "key", "classification", batch_rows=4_096):
        assert chunk_scores.dtype == np.float32
        scorer.add(chunk_y, chunk_scores, chunk_masks(PackedMasks(masks), ids, chunk_ids, at, "test", index))
        at += len(chunk_ids)
    # Before streaming: whole arrays in stored order, masks aligned to it (the exact bootstrap sees row order).
    whole = score_predictions(y[order].astype(np.int64), p[order].astype(np.float64),
                              masks={name: mask[order] for name, mask in masks.items()}, **kwargs)  # type: ignore[arg-type]
    streamed = scorer.results()
    assert [(r.slice, r.metric, r.n, r.ci_method) for r in streamed] == [(r.slice, r.metric, r.n, r.ci_method) for r in whole]
    np.testing.assert_allclose([[r.value, r.ci_low, r.ci_high] for r in streamed],
                               [[r.value, r.ci_low, r.ci_high] for r in whole], rtol=1e-12, atol=1e-12)
    assert any(r.ci_method == "bootstrap" for r in whole) and any(r.ci_method == "delong" for r in whole)


def test_chunk_masks_refuse_unknown_ids_and_extra_rows() -> None:
    ids = np.arange(10)
    masks = PackedMasks({"all": np.ones(10, bool), "odd": ids % 2 == 1})
    assert chunk_masks(masks, ids, ids[4:8], 4, "here")["all"].shape == (4,)
    assert chunk_masks(masks, ids, ids[3:9], 3, "here")["odd"].tolist() == [True, False, True, False, True, False]
    assert chunk_masks(masks, ids, np.array([7, 2, 9]), 0, "here")["odd"].tolist() == [True, False, True]  # by id
    with pytest.raises(DataError, match="unknown"):
        chunk_masks(masks, ids, np.array([3, 99]), 0, "here")
    with pytest.raises(DataError, match="expected 10 rows"):
        chunk_masks(masks, ids, ids[:4], 8, "here")
