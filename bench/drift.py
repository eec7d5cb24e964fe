"""Benchmark: drift from merged shard summaries vs Evidently's DataDriftPreset on whole frames.

Data: reference and current of ``--rows`` rows each (default 1M), 20 numeric and
5 categorical columns, generated in ``--shards`` seeded shards; some columns are
shifted in the current data. The summaries are scored with Evidently's own choice
of method at this size (Wasserstein / Jensen–Shannon, named per column) so both
engines compute the same statistic; Vigil's default policy on the same summaries
is printed beside it. Each method runs in its own subprocess, which
reports its compute time (data generation excluded) and peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The summaries path never holds
more than one shard: it builds its histogram edges from the first reference
shard, then summarises each shard and merges. The last line is
``speedup_vs_evidently_full: X`` (Evidently's time / the summaries' time).

Run: ``PYTHONPATH=$PWD python bench/drift.py [--rows 1000000] [--shards 10]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

# This file is named drift.py: keep its folder off sys.path so `import drift` finds the package.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NUMERIC = [f"n{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
# Current-data shifts: (mean shift, scale factor) per numeric column; new or re-weighted categories.
NUMERIC_SHIFT = {"n00": (0.5, 1.0), "n01": (0.0, 1.6), "n02": (0.3, 1.0), "n03": (-0.4, 1.2), "n04": (0.0, 0.5)}
CAT_LEVELS = list("abcdefgh")


def make_shard(side: str, shard: int, rows: int, seed: int = 7) -> pd.DataFrame:
    """One seeded shard of the reference (``side='ref'``) or current (``'cur'``) data."""
    rng = np.random.default_rng([seed, side == "cur", shard])
    data: dict[str, object] = {}
    for i, col in enumerate(NUMERIC):
        loc, scale = NUMERIC_SHIFT.get(col, (0.0, 1.0)) if side == "cur" else (0.0, 1.0)
        base = rng.standard_normal(rows) if i % 2 == 0 else rng.exponential(1.0, rows)
        data[col] = base * scale + loc + 10.0 * i
    for i, col in enumerate(CATEGORICAL):
        probs = np.full(len(CAT_LEVELS), 1.0 / len(CAT_LEVELS))
        if side == "cur" and col == "c0":
            probs = np.r_[np.full(len(CAT_LEVELS) - 1, 0.1), 0.3]  # level 'h' grows from 12.5% to 30%
        levels = list(CAT_LEVELS)
        if side == "cur" and col == "c1":
            levels[-1] = "new"  # a category the reference never saw
        data[col] = np.array(levels, dtype=object)[rng.choice(len(levels), rows, p=probs)]
    return pd.DataFrame(data)


def run_summaries(rows: int, shards: int) -> dict:
    from drift.scale import drift_from_summaries, make_bins_spec, merge_summaries, shard_summary

    cols, per = NUMERIC + CATEGORICAL, rows // shards
    elapsed = 0.0
    parts: dict[str, list] = {"ref": [], "cur": []}
    spec = None
    for side in ("ref", "cur"):
        for s in range(shards):
            frame = make_shard(side, s, per)
            t0 = time.perf_counter()
            if spec is None:
                spec = make_bins_spec(frame, cols, categorical=CATEGORICAL)
            parts[side].append(shard_summary(frame, cols, spec))
            elapsed += time.perf_counter() - t0
            del frame
    t0 = time.perf_counter()
    ref, cur = merge_summaries(parts["ref"]), merge_summaries(parts["cur"])
    # Like for like with Evidently: its own choice of method at this size, named per column.
    named = {c: ("jensen_shannon" if c in CATEGORICAL else "wasserstein") for c in cols}
    result = drift_from_summaries(ref, cur, cols, per_column_method=named)
    elapsed += time.perf_counter() - t0
    policy = drift_from_summaries(ref, cur, cols)  # Vigil's default (tests, correction, effect floors)
    return {**_report(result, elapsed), "policy": {r.column: [r.method, r.effect, r.drifted] for r in policy.columns}}


def run_evidently(rows: int, shards: int) -> dict:
    from drift.evidently_adapter import run_data_drift

    per = rows // shards
    ref = pd.concat([make_shard("ref", s, per) for s in range(shards)], ignore_index=True)
    cur = pd.concat([make_shard("cur", s, per) for s in range(shards)], ignore_index=True)
    t0 = time.perf_counter()
    result, _ = run_data_drift(ref, cur, NUMERIC + CATEGORICAL, categorical=CATEGORICAL)
    return _report(result, time.perf_counter() - t0)


def _report(result, elapsed: float) -> dict:
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": elapsed,
        "peak_rss_mb": peak_mb,
        "columns": {r.column: [r.method, r.score, r.drifted] for r in result.columns},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=10)
    parser.add_argument("--method", choices=["summaries", "evidently"])
    args = parser.parse_args()
    if args.method:  # child process: one method, JSON on stdout
        fn = run_summaries if args.method == "summaries" else run_evidently
        print(json.dumps(fn(args.rows, args.shards)))
        return
    out = {}
    for method in ("summaries", "evidently"):
        proc = subprocess.run(
            [sys.executable, "-W", "ignore", __file__, "--method", method, "--rows", str(args.rows),
             "--shards", str(args.shards)],
            capture_output=True, text=True, check=True,
        )
        out[method] = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{method:10s} {out[method]['seconds']:8.2f} s  peak RSS {out[method]['peak_rss_mb']:7.0f} MB")
    agree, max_diff = 0, 0.0
    for col, (method, score, drifted) in out["evidently"]["columns"].items():
        s_method, s_score, s_drifted = out["summaries"]["columns"][col]
        agree += s_drifted == drifted and s_method == method
        max_diff = max(max_diff, abs(s_score - score))
        print(f"  {col:4s} {method:15s} evidently {score:.4f} {str(drifted):5s}  summaries {s_score:.4f} {s_drifted}")
    total = len(out["evidently"]["columns"])
    policy = out["summaries"]["policy"]
    same = sum(policy[col][2] == drifted for col, (_, _, drifted) in out["evidently"]["columns"].items())
    print(f"Vigil's default policy on the summaries (K-S / chi-square, BH, effect floors): {same}/{total} verdicts as Evidently's")
    print(f"verdicts_agree: {agree}/{total}")
    print(f"max_abs_score_diff: {max_diff:.2e}")
    print(f"speedup_vs_evidently_full: {out['evidently']['seconds'] / out['summaries']['seconds']:.1f}")


if __name__ == "__main__":
    main()
