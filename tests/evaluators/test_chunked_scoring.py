"""Scoring in chunks gives the whole-array results, and its memory does not grow with the rows.

Seeded simulations: 50,000 rows fed in 7 uneven chunks, with slices above and below
``EXACT_MAX_ROWS`` (20,000), an empty slice and one-class slices of both sizes. Slices that
end up small must be bit-identical to :func:`score_predictions`; large ones equal it up to
float rounding of the chunked sums (values, intervals) with the same ``ci_method``.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import numpy as np
import pytest

from evaluators.chunked import ChunkedScorer, score_chunks
from evaluators.intervals import EXACT_MAX_ROWS
from evaluators.intervals.moments import RowMoments, SkewMoments, _dense_third, third_comoment
from evaluators.metrics.expected_cost import cost_metric
from evaluators.scoring import MetricResult, score_predictions
from suite.errors import DataError
from suite.spec import BootstrapSpec

N = 50_000
CUTS = [0, 1_000, 9_000, 20_000, 20_001, 33_000, 47_500, N]  # 7 uneven chunks
ROUNDING = 1e-12


def classification(n: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(k, n, p=np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))])
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    return y, np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def slices(y: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    group = rng.integers(0, 4, len(y))
    masks = {
        "all": np.ones(len(y), bool),                      # 50k: large
        "half": group < 2,                                 # ~25k: large
        "quarter": group == 2,                             # ~12.5k: exact bootstrap
        "empty": np.zeros(len(y), bool),
        "one class, large": (y == 0) & (group < 3),        # ~22.5k, one true class
        "one class, small": (y == 0) & (group == 3),
    }
    assert masks["half"].sum() > EXACT_MAX_ROWS > masks["quarter"].sum() and masks["one class, large"].sum() > EXACT_MAX_ROWS
    return masks


def chunked(y: np.ndarray, scores: np.ndarray, masks: dict[str, np.ndarray], cuts: list[int] = CUTS) -> Iterator[tuple]:
    for start, stop in zip(cuts[:-1], cuts[1:]):
        yield y[start:stop], scores[start:stop], {name: mask[start:stop] for name, mask in masks.items()}


def assert_same(whole: list[MetricResult], parts: list[MetricResult]) -> None:
    assert [(r.slice, r.metric, r.n, r.ci_method) for r in parts] == [(r.slice, r.metric, r.n, r.ci_method) for r in whole]
    for w, p in zip(whole, parts):
        got, expected = [p.value, p.ci_low, p.ci_high], [w.value, w.ci_low, w.ci_high]
        if w.n <= EXACT_MAX_ROWS:
            assert got == expected or np.array_equal(got, expected, equal_nan=True), (w.slice, w.metric, got, expected)
        else:
            np.testing.assert_allclose(got, expected, rtol=ROUNDING, atol=ROUNDING, err_msg=f"{w.slice} {w.metric}")


@pytest.mark.parametrize("k", [2, 4])
def test_chunked_classification_equals_the_whole_arrays(k: int) -> None:
    rng = np.random.default_rng(k)
    y, p = classification(N, k, rng)
    masks = slices(y, rng)
    kwargs = dict(task="classification", metric_names=["accuracy", "macro_f1", "ece", "roc_auc", "log_loss"],
                  bootstrap=BootstrapSpec(resamples=300), seed=11,
                  extra_metrics=[cost_metric(rng.uniform(1, 5, (k, k)) * (1 - np.eye(k)))])
    whole = score_predictions(y, p, masks=masks, **kwargs)  # type: ignore[arg-type]
    parts = score_chunks(chunked(y, p, masks), **kwargs)
    assert_same(whole, parts)
    methods = {(r.slice, r.metric): r.ci_method for r in parts}
    assert methods[("all", "ece")] == "normal-sums" and methods[("all", "roc_auc")] == "delong"
    assert methods[("quarter", "ece")] == "bootstrap"


def test_small_slices_keep_their_rows_once_without_auc() -> None:
    """Without AUC only slices of at most EXACT_MAX_ROWS keep rows, in one store: they still score exactly."""
    rng = np.random.default_rng(8)
    y, p = classification(N, 3, rng)
    masks = slices(y, rng)
    kwargs = dict(task="classification", metric_names=["accuracy", "ece", "log_loss"], bootstrap=BootstrapSpec(resamples=200), seed=3)
    scorer = ChunkedScorer(**kwargs)  # type: ignore[arg-type]
    for chunk in chunked(y, p, masks):
        scorer.add(*chunk)
    stored = sum(len(rows) for rows in scorer._kept._y if rows is not None)
    # the chunks read while "all" was small (20,001 rows), then only the small slices' rows: not all N
    assert stored < CUTS[4] + masks["quarter"].sum() + masks["one class, small"].sum() < N
    assert_same(score_predictions(y, p, masks=masks, **kwargs), scorer.results())  # type: ignore[arg-type]


def test_float32_chunks_score_as_their_float64_whole() -> None:
    """The pipeline streams float32 scores and int32 labels; the whole path saw them cast to float64 and int64."""
    rng = np.random.default_rng(5)
    y, p = classification(N, 3, rng)
    p32, y32 = p.astype(np.float32), y.astype(np.int32)
    masks = slices(y, rng)
    kwargs = dict(task="classification", metric_names=["accuracy", "ece", "roc_auc", "log_loss"],
                  bootstrap=BootstrapSpec(resamples=200), seed=2)
    whole = score_predictions(y32.astype(np.int64), p32.astype(np.float64), masks=masks, **kwargs)  # type: ignore[arg-type]
    assert_same(whole, score_chunks(chunked(y32, p32, masks), **kwargs))


def test_chunked_regression_equals_the_whole_arrays() -> None:
    rng = np.random.default_rng(9)
    y = rng.normal(size=N)
    pred = 0.8 * y + rng.standard_t(3, size=N)
    masks = {"all": np.ones(N, bool), "big": y > -0.5, "small": y > 1.5, "none": np.zeros(N, bool)}
    kwargs = dict(task="regression", metric_names=["mae", "rmse", "r2"], bootstrap=BootstrapSpec(resamples=300), seed=4)
    assert_same(score_predictions(y, pred, masks=masks, **kwargs), score_chunks(chunked(y, pred, masks), **kwargs))  # type: ignore[arg-type]


def test_third_moments_merge_exactly() -> None:
    rows = np.random.default_rng(1).gamma(0.5, size=(5_000, 4)) * [1, 10, 0.1, 3]
    whole = SkewMoments.of(rows)
    merged = SkewMoments.of(rows[:7]).merge(SkewMoments.of(rows[7:3_000])).merge(SkewMoments.of(rows[3_000:]))
    centred = rows - rows.mean(axis=0)
    direct = np.einsum("ri,rj,rk->ijk", centred, centred, centred)
    np.testing.assert_allclose(merged.third, direct, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(whole.third, direct, rtol=1e-10, atol=1e-9)
    assert isinstance(merged.moments, RowMoments) and merged.n == len(rows)


@pytest.mark.parametrize("nonzeros", [0, 1, 2, 15])
def test_sparse_third_moments_equal_the_dense_tensor(nonzeros: int) -> None:
    """Rows with few nonzeros (ECE's one-hot bins) take the raw-moment path, dense ones the centred one: same tensor."""
    rng = np.random.default_rng(nonzeros)
    n, m = 30_000, 15
    rows = np.zeros((n, m))
    for _ in range(nonzeros):  # up to `nonzeros` per row (collisions leave fewer), skewed and of both signs
        rows[np.arange(n), rng.choice(m, n, p=np.r_[0.4, np.full(m - 1, 0.6 / (m - 1))])] = rng.gamma(0.5, size=n) - 0.3
    rows[rng.random(n) < 0.1] = 0.0  # some rows all zero
    centred = rows - rows.mean(axis=0)
    direct = np.einsum("ri,rj,rk->ijk", centred, centred, centred)
    merged = SkewMoments.of(rows[:5_000]).merge(SkewMoments.of(rows[5_000:]))
    for tensor in (SkewMoments.of(rows).third, merged.third, third_comoment(rows, RowMoments.of(rows))):
        np.testing.assert_allclose(tensor, direct, rtol=1e-10, atol=1e-12 * np.abs(direct).max())
    if nonzeros == 1:  # ECE's case: the dense product's own result matches too
        np.testing.assert_allclose(_dense_third(rows, rows.mean(axis=0)), direct, rtol=1e-10, atol=1e-12 * np.abs(direct).max())


def test_sparse_rows_with_a_dominant_mean_keep_the_centred_path() -> None:
    """A nonzero column whose mean dwarfs its spread would cancel in raw moments: it takes the dense path."""
    rows = np.zeros((4_000, 16))
    rows[:, 3] = 1e4 + np.random.default_rng(2).gamma(0.5, size=4_000)
    centred = rows - rows.mean(axis=0)
    direct = np.einsum("ri,rj,rk->ijk", centred, centred, centred)
    np.testing.assert_allclose(third_comoment(rows, RowMoments.of(rows)), direct, rtol=1e-9, atol=1e-9 * np.abs(direct).max())


def test_chunks_with_other_slices_or_bad_masks_are_refused() -> None:
    y, p = classification(10, 2, np.random.default_rng(0))
    scorer = ChunkedScorer(task="classification", metric_names=["accuracy"], bootstrap=BootstrapSpec(resamples=10), seed=0)
    scorer.add(y[:5], p[:5], {"all": np.ones(5, bool)})
    with pytest.raises(DataError, match="expected the slices"):
        scorer.add(y[5:], p[5:], {"other": np.ones(5, bool)})
    with pytest.raises(DataError, match="boolean mask"):
        scorer.add(y[5:], p[5:], {"all": np.ones(4, bool)})
    with pytest.raises(DataError, match="score columns"):
        scorer.add(y[5:], np.hstack([p[5:], p[5:]]) / 2, {"all": np.ones(5, bool)})


METRICS_WITHOUT_AUC = ["accuracy", "macro_f1", "ece", "log_loss"]
SMALL, LARGE, CHUNK = 200_000, 800_000, 50_000
#: Bytes of peak traced memory per extra row allowed to the chunked path. The whole-array path
#: holds float64 scores and ECE's (n, 15) statistics: well over 100 bytes per row.
MAX_BYTES_PER_ROW = 4


def _generated(rows: int) -> Iterator[tuple]:
    """Seeded chunks made on the fly, so the input itself is never whole."""
    for start in range(0, rows, CHUNK):
        rng = np.random.default_rng(start)
        y, p = classification(CHUNK, 3, rng)
        # "few" holds the same ~2,500 rows at both sizes: the exact bootstrap's own memory grows with
        # its slice up to EXACT_MAX_ROWS, which is bounded but would blur the per-row figure.
        yield y, p, {"all": np.ones(CHUNK, bool), "y=1": y == 1, "few": (rng.random(CHUNK) < 0.05) & (start == 0)}


def _peak(run: object) -> int:
    tracemalloc.start()
    try:
        run()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_chunked_peak_memory_does_not_grow_with_rows() -> None:
    kwargs = dict(task="classification", metric_names=METRICS_WITHOUT_AUC, bootstrap=BootstrapSpec(resamples=200), seed=0)
    small = _peak(lambda: score_chunks(_generated(SMALL), **kwargs))
    large = _peak(lambda: score_chunks(_generated(LARGE), **kwargs))
    per_row = (large - small) / (LARGE - SMALL)
    print(f"chunked peak: {small / 1e6:.1f} MB at {SMALL} rows, {large / 1e6:.1f} MB at {LARGE}: {per_row:.2f} B/row")
    assert per_row < MAX_BYTES_PER_ROW, f"chunked scoring grew by {per_row:.1f} bytes per row (expected < {MAX_BYTES_PER_ROW})"

    def whole(rows: int) -> None:
        parts = list(_generated(rows))
        y, p = np.concatenate([c[0] for c in parts]), np.concatenate([c[1] for c in parts])
        masks = {name: np.concatenate([c[2][name] for c in parts]) for name in parts[0][2]}
        del parts
        score_predictions(y, p, masks=masks, **kwargs)  # type: ignore[arg-type]

    whole_per_row = (_peak(lambda: whole(LARGE)) - _peak(lambda: whole(SMALL))) / (LARGE - SMALL)
    print(f"whole-array peak grows by {whole_per_row:.0f} B/row")
    assert whole_per_row > 25 * MAX_BYTES_PER_ROW  # the measurement can tell the two paths apart


#: ROC AUC keeps the rows once, as they came (int32 + 3 × float32: 16 B/row), for DeLong's sorts,
#: whose pass gathers one class's column at a time and peaks ~28 B/row more (44 measured; 83
#: before issue 18, with float64 stable sorts): the one per-row cost left.
MAX_AUC_BYTES_PER_ROW = 64


def test_chunked_auc_memory_is_its_kept_float32_rows_and_one_delong_pass() -> None:
    def generated(rows: int) -> Iterator[tuple]:
        for y, p, masks in _generated(rows):
            yield y.astype(np.int32), p.astype(np.float32), {"all": masks["all"]}

    kwargs = dict(task="classification", metric_names=["roc_auc", "ece"], bootstrap=BootstrapSpec(resamples=200), seed=0)
    small = _peak(lambda: score_chunks(generated(SMALL), **kwargs))
    large = _peak(lambda: score_chunks(generated(LARGE), **kwargs))
    per_row = (large - small) / (LARGE - SMALL)
    print(f"chunked peak with roc_auc: {per_row:.0f} B/row")
    assert 16 <= per_row < MAX_AUC_BYTES_PER_ROW
