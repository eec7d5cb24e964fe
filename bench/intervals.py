"""Benchmark: confidence intervals from sufficient statistics vs the exact row bootstrap.

Data: ``--rows`` rows (default 1M) of a seeded 5-class problem (imbalanced,
scores rounded to 0.01 so AUC sees ties). For each classification metric it
times, on one core of this machine:

- the interval from sufficient statistics at ``--rows`` (``fast_interval``,
  its method named), with ``--resamples`` draws;
- the exact row bootstrap (today's path, ``O(n·B)``) at ``--exact-rows``
  (default 50,000) and at :data:`~evaluators.intervals.EXACT_MAX_ROWS`, and its
  linear extrapolation to ``--rows`` (the chunked resampling is linear in rows);
- the paired difference at ``--rows`` (``paired_bootstrap_diff`` with a Metric).

Then ``score_predictions`` end to end on one slice of ``--rows`` rows. The
last line is ``speedup_at_rows: X``: extrapolated exact bootstrap of all
metrics / fast intervals of all metrics, at ``--rows``.

Run: ``PYTHONPATH=$PWD python bench/intervals.py [--rows 1000000] [--resamples 1000]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# One BLAS thread: comparable figures on a shared machine (two threads on two busy cores made a
# 1M x 30 Gram matrix 100x slower), and the bootstrap it is compared with is single-threaded too.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from evaluators.bootstrap import bootstrap_ci  # noqa: E402
from evaluators.intervals import EXACT_MAX_ROWS, fast_interval, interval_method  # noqa: E402
from evaluators.metrics import get_metric  # noqa: E402
from evaluators.scoring import score_predictions  # noqa: E402
from evaluators.statistics import paired_bootstrap_diff  # noqa: E402
from suite.spec import BootstrapSpec  # noqa: E402

NAMES = ["accuracy", "macro_f1", "ece", "log_loss", "roc_auc"]


def data(n: int, k: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.choice(k, n, p=np.r_[0.6, np.full(k - 1, 0.4 / (k - 1))])
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.5
    other = logits + rng.normal(scale=0.6, size=(n, k))

    def probabilities(z: np.ndarray) -> np.ndarray:
        p = np.clip(np.round(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), 2), 1e-3, None)
        return p / p.sum(axis=1, keepdims=True)

    return y, probabilities(logits), probabilities(other)


def timed(call):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = call()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--exact-rows", type=int, default=50_000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    B = args.resamples
    y, a, b = data(args.rows)
    fast_total = exact_total = 0.0
    print(f"rows={args.rows:,} resamples={B} EXACT_MAX_ROWS={EXACT_MAX_ROWS:,} (times in seconds, one process)")
    print(f"{'metric':10s} {'method':16s} {'fast@rows':>9s} {'exact@20k':>9s} {'exact@' + str(args.exact_rows // 1000) + 'k':>9s}"
          f" {'exact→rows':>10s} {'paired@rows':>11s}")
    for name in NAMES:
        metric = get_metric(name, "classification")
        _, fast = timed(lambda: fast_interval(metric, y, a, resamples=B, confidence=0.95, seed=0))
        _, small = timed(lambda: bootstrap_ci(metric, y[:EXACT_MAX_ROWS], a[:EXACT_MAX_ROWS], resamples=B, confidence=0.95, seed=0))
        m = args.exact_rows
        _, exact = timed(lambda: bootstrap_ci(metric, y[:m], a[:m], resamples=B, confidence=0.95, seed=0))
        extrapolated = exact * args.rows / m
        paired, paired_s = timed(lambda: paired_bootstrap_diff(metric, y, a, b, resamples=B, seed=0))
        fast_total, exact_total = fast_total + fast, exact_total + extrapolated
        print(f"{name:10s} {interval_method(metric, args.rows):16s} {fast:9.3f} {small:9.2f} {exact:9.2f} {extrapolated:10.1f}"
              f" {paired_s:11.3f}  ({paired.method})")
    spec = BootstrapSpec(resamples=B)
    _, scoring = timed(lambda: score_predictions(y, a, task="classification", metric_names=NAMES,
                                                 masks={"all": np.ones(args.rows, bool)}, bootstrap=spec, seed=0))
    print(f"score_predictions, one slice of {args.rows:,} rows, {len(NAMES)} metrics (values included): {scoring:.2f} s")
    print(f"fast intervals, all metrics: {fast_total:.2f} s; exact bootstrap extrapolated: {exact_total:.0f} s")
    print(f"speedup_at_rows: {exact_total / fast_total:.0f}")


if __name__ == "__main__":
    main()
