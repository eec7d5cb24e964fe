"""Write the digits example's shadow request log and its labels file (deterministic).

Production's answers come from the suite's baseline (the MLP), so the CNN
candidate disagrees with it on real rows. Five malformed rows are added to
show quarantine, one per reason: ``unparseable_json``, ``missing_field:latency_ms``,
``wrong_type:pixel_5``, ``non_finite:latency_ms`` and ``duplicate_request_id``.
Labels (the true digit) are given for four requests in five, in a separate file.

Usage: ``python examples/digits/make_request_log.py`` writes
``shadow/requests.jsonl`` and ``shadow/labels.jsonl``; then
``vigil shadow replay --suite examples/digits/suite.yaml --log examples/digits/shadow/requests.jsonl
--labels examples/digits/shadow/labels.jsonl --window hour``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1])]

from bench.sample_log import baseline_outputs, build_request_log  # noqa: E402
from evaluators.shadow.request_log.format import LABEL, LATENCY_MS, REQUEST_ID, SCORES, TIMESTAMP  # noqa: E402
from storage.datasets import load_dataset  # noqa: E402
from suite.load import load_suite  # noqa: E402

SEED = 7
OUT = HERE / "shadow"
EXPECTED_QUARANTINE = {
    "duplicate_request_id": 1,
    f"missing_field:{LATENCY_MS}": 1,
    f"non_finite:{LATENCY_MS}": 1,
    "unparseable_json": 1,
    "wrong_type:pixel_5": 1,
}


def main() -> None:
    suite = load_suite(HERE / "suite.yaml")
    data = load_dataset(suite.evaluation_datasets[0], suite)
    features = data.frame[data.features].astype(int)  # raw pixel intensities 0..16
    scores = baseline_outputs(suite, features, num_classes=10)
    log = build_request_log(features, scores, seed=SEED, start="2026-03-02T08:00:00Z", interval_s=40, latency_median_ms=4.0)
    log[LATENCY_MS] = log[LATENCY_MS].round(3)
    log[TIMESTAMP] = log[TIMESTAMP].map(lambda t: t.isoformat())
    lines = [json.dumps(row | {SCORES: [float(s) for s in row[SCORES]]}, allow_nan=True) for row in log.to_dict("records")]
    lines += _malformed(json.loads(lines[3]), len(log))
    OUT.mkdir(exist_ok=True)
    (OUT / "requests.jsonl").write_text("\n".join(lines) + "\n")
    labels = [
        json.dumps({REQUEST_ID: rid, LABEL: int(y)})
        for i, (rid, y) in enumerate(zip(log[REQUEST_ID], data.frame[data.label]))
        if i % 5 != 4
    ]
    (OUT / "labels.jsonl").write_text("\n".join(labels) + "\n")
    print(f"wrote {len(lines)} rows to {OUT / 'requests.jsonl'} and {len(labels)} labels to {OUT / 'labels.jsonl'}")


def _malformed(good: dict, n: int) -> list[str]:
    """One row per quarantine reason, built from a valid row."""

    def row(i: int, **changes: object) -> dict:
        return good | {REQUEST_ID: f"req-bad-{i}"} | changes

    missing = row(2)
    del missing[LATENCY_MS]
    return [
        json.dumps(row(1))[:60],  # a truncated line
        json.dumps(missing),
        json.dumps(row(3, pixel_5="sixteen")),
        json.dumps(row(4, **{LATENCY_MS: float("inf")}), allow_nan=True),
        json.dumps(good),  # the same request id again
    ]


if __name__ == "__main__":
    main()
