"""ChunkedPairedScorer against the whole-array paired test it replaces in the drop-vs-baseline gate.

The whole-array path sorted both models' predictions by sample id and called
``paired_bootstrap_diff`` per slice. Here the same rows arrive in uneven chunks, in a
shuffled id order, and every slice's result must equal that path's: exactly where
the exact bootstrap runs (a slice of at most ``exact_max_rows``) or the cell tables
are drawn, up to float rounding where normal sums or DeLong are used.
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluators.metrics import get_metric
from evaluators.paired_chunked import ChunkedPairedScorer
from evaluators.statistics import mcnemar_exact, paired_bootstrap_diff

N, K, LIMIT = 30_000, 3, 5_000


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ids = rng.permutation(N).astype(np.int64) + 10_000  # stored order is not id order
    y = rng.integers(0, K, N)
    signal = np.eye(K)[y]
    a = np.exp(1.6 * signal + rng.normal(size=(N, K)))
    b = np.exp(1.3 * signal + rng.normal(size=(N, K)))
    a, b = (a / a.sum(axis=1, keepdims=True)).astype(np.float32), (b / b.sum(axis=1, keepdims=True)).astype(np.float32)
    region = rng.choice(["north", "south", "tiny"], size=N, p=[0.80, 0.17, 0.03])
    masks = {"all": np.ones(N, bool), **{f"region={r}": region == r for r in ("north", "south", "tiny")}}
    return ids, y.astype(np.int32), a, b, masks


def _chunked(metric, ids, y, a, b, masks, *, task="classification", mcnemar=False, chunk=4_321, columns=None):
    scorer = ChunkedPairedScorer(metric, task=task, resamples=300, confidence=0.95, seed=7, mcnemar=mcnemar, exact_max_rows=LIMIT,
                                 columns=columns)
    for start in range(0, len(y), chunk):
        rows = slice(start, start + chunk)
        scorer.add(ids[rows], y[rows], a[rows], b[rows], {name: mask[rows] for name, mask in masks.items()})
    return scorer.results()


def _whole(metric, ids, y, a, b, mask, *, task="classification"):
    order = np.argsort(ids[mask])
    ys = y[mask][order].astype(np.int64 if task == "classification" else np.float64)
    return ys, a[mask][order].astype(np.float64), b[mask][order].astype(np.float64), \
        paired_bootstrap_diff(metric, ys, a[mask][order].astype(np.float64), b[mask][order].astype(np.float64),
                              resamples=300, seed=7, exact_max_rows=LIMIT)


@pytest.mark.parametrize(("name", "large_method", "rel"), [
    ("accuracy", "bootstrap-cells", 1e-12),
    ("macro_f1", "bootstrap-cells", 1e-12),
    ("log_loss", "normal-sums", 1e-7),
    ("ece", "normal-sums", 1e-7),
    ("roc_auc", "delong", 1e-9),
])
def test_every_slice_equals_the_whole_array_paired_test(name: str, large_method: str, rel: float) -> None:
    ids, y, a, b, masks = _data()
    metric = get_metric(name, "classification")
    results = _chunked(metric, ids, y, a, b, masks, mcnemar=name == "accuracy")
    assert list(results) == list(masks)
    for slice_, mask in masks.items():
        ys, sa, sb, expected = _whole(metric, ids, y, a, b, mask)
        got = results[slice_].diff
        assert got.n == expected.n == int(mask.sum())
        if expected.n <= LIMIT:  # the exact bootstrap on the same rows in the same order: identical
            assert got == expected, slice_
            continue
        assert got.method == expected.method == large_method
        for field in ("diff", "ci_low", "ci_high", "p_value", "p_less", "p_greater", "se"):
            assert getattr(got, field) == pytest.approx(getattr(expected, field), rel=rel, abs=1e-12), (slice_, field)
        if name == "accuracy":
            exact = mcnemar_exact(sa.argmax(axis=1) == ys, sb.argmax(axis=1) == ys)
            assert results[slice_].mcnemar == exact


def test_auc_from_columns_read_when_the_test_runs_equals_the_kept_rows() -> None:
    """Given the models' class columns (as the gates read them from the prediction files), a large slice keeps no scores."""
    ids, y, a, b, masks = _data(2)
    metric = get_metric("roc_auc", "classification")
    reads: list[tuple[int, int]] = []

    def columns(model: int, c: int) -> np.ndarray:
        reads.append((model, c))
        return (a if model == 0 else b)[:, c]

    kept = _chunked(metric, ids, y, a, b, masks)
    read = _chunked(metric, ids, y, a, b, masks, columns=columns)
    for slice_, mask in masks.items():
        expected = _whole(metric, ids, y, a, b, mask)[3]
        assert read[slice_].diff.n == expected.n
        if expected.n <= LIMIT:
            assert read[slice_].diff == expected
            continue
        for field in ("diff", "ci_low", "ci_high", "p_value", "se"):
            assert getattr(read[slice_].diff, field) == pytest.approx(getattr(kept[slice_].diff, field), rel=1e-12, abs=1e-15), (slice_, field)
    large = sum(int(mask.sum()) > LIMIT for mask in masks.values())
    assert sorted(set(reads)) == [(m, c) for m in (0, 1) for c in range(K)] and len(reads) == large * 2 * K  # a column per class, model, large slice


def test_a_plain_metric_function_keeps_rows_and_bootstraps_them_in_id_order() -> None:
    ids, y, a, b, masks = _data(1)
    masks = {"all": masks["all"], "region=south": masks["region=south"]}

    def top_two(y_true: np.ndarray, scores: np.ndarray) -> float:  # no sufficient statistics: the row bootstrap at every size
        return float(np.mean((np.argsort(-scores, axis=1)[:, :2] == y_true[:, None]).any(axis=1)))

    small = {"region=south": masks["region=south"]}
    results = _chunked(top_two, ids, y, a, b, small, chunk=997)
    assert results["region=south"].diff == _whole(top_two, ids, y, a, b, masks["region=south"])[3]
    assert results["region=south"].mcnemar is None


def test_regression_pairs_stream_as_well() -> None:
    rng = np.random.default_rng(3)
    n = 12_000
    ids = np.arange(n, dtype=np.int64)[::-1].copy()
    y = rng.normal(size=n)
    a, b = y + rng.normal(0, 0.5, n), y + rng.normal(0, 0.6, n)
    masks = {"all": np.ones(n, bool), "half": np.arange(n) % 2 == 0}
    metric = get_metric("mae", "regression")
    results = _chunked(metric, ids, y, a, b, masks, task="regression", chunk=2_500)
    for slice_, mask in masks.items():
        expected = _whole(metric, ids, y, a, b, mask, task="regression")[3]
        assert results[slice_].diff.diff == pytest.approx(expected.diff, rel=1e-9)
        assert results[slice_].diff.ci_low == pytest.approx(expected.ci_low, rel=1e-6)
        assert results[slice_].diff.method == expected.method


def test_mismatched_outputs_and_slices_fail_with_one_line() -> None:
    scorer = ChunkedPairedScorer(get_metric("accuracy", "classification"), task="classification", resamples=10, confidence=0.95, seed=0)
    y, two, three = np.array([0, 1]), np.full((2, 2), 0.5), np.full((2, 3), 1 / 3)
    with pytest.raises(Exception, match="same output shape"):
        scorer.add(np.arange(2), y, two, three, {"all": np.ones(2, bool)})
    scorer.add(np.arange(2), y, two, two, {"all": np.ones(2, bool)})
    with pytest.raises(Exception, match="expected the slices"):
        scorer.add(np.arange(2), y, two, two, {"other": np.ones(2, bool)})
    with pytest.raises(Exception, match="expected 2 score columns in every chunk, got 3"):
        scorer.add(np.arange(2), y, three, three, {"all": np.ones(2, bool)})
