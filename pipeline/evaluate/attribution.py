"""Attribute a run's metric change to each upstream module: ``metric(current) − metric(module rolled back)``.

Both sides are the same models on the same rows (the clean variant and
``ablation@<module>``), so the difference gets a paired bootstrap CI and p-value.
Written with the run as ``upstream.parquet``.
"""

from __future__ import annotations

import pandas as pd

from evaluators.metrics import METRICS
from evaluators.paired_chunked import ChunkedPairedScorer
from pipeline.evaluate.plan import RunPlan
from pipeline.evaluate.score import stream_pair
from pipeline.evaluate.upstream import ablation_variant, version_files
from storage.cache import PredictionCache
from storage.checksums import sha256_file
from suite.settings import Settings
from suite.spec import SuiteSpec, UpstreamVersion

UPSTREAM_FILE = "upstream.parquet"
COLUMNS = ["module", "kind", "version", "previous_version", "model", "dataset", "metric", "delta", "ci_low", "ci_high", "p_value", "n"]


def version_label(suite: SuiteSpec, version: UpstreamVersion, where: str) -> str:
    """A version's ``version:`` label, else the first 12 hex of its data (or code) file's sha256."""
    if version.version:
        return version.version
    files = version_files(suite, version, where)
    path = files.data or files.module
    assert path is not None
    return sha256_file(path)[:12]


def attribution(plan: RunPlan, suite: SuiteSpec, settings: Settings, metric: str | None = None) -> pd.DataFrame:
    """Per module × model × dataset: ``metric(current) − metric(module rolled back)``, paired bootstrap CI."""
    name = metric or suite.primary()
    fn = METRICS.get(name)  # the Metric itself, so large samples take paired_bootstrap_diff's fast path
    cache = PredictionCache(settings.cache_dir)
    rows = []
    for i, module in enumerate(suite.upstream):
        if module.previous is None:
            continue
        labels = {"version": version_label(suite, module, f"upstream[{i}]"),
                  "previous_version": version_label(suite, module.previous, f"upstream[{i}].previous")}
        for model in plan.models:
            for dataset in (d for d in plan.datasets if module.applies_to(d.name)):
                keys = (plan.cache_key(model.name, dataset.name, "clean"), plan.cache_key(model.name, dataset.name, ablation_variant(module.name)))
                scorer = ChunkedPairedScorer(fn, task=suite.task, resamples=suite.bootstrap.resamples, confidence=suite.bootstrap.confidence, seed=plan.seed,
                                             columns=lambda m, c: cache.column(keys[m], f"score_{c}"))  # noqa: B023 (this pair's files)
                where = f"run {plan.run_id}: predictions of {model.name} on {dataset.name}, with and without upstream {module.name}"
                diff = stream_pair(cache, keys, plan.data(dataset.name), suite.task, [scorer], None, where)[0]["all"].diff  # streamed: never both whole
                rows.append({"module": module.name, "kind": module.kind, **labels, "model": model.name, "dataset": dataset.name, "metric": name,
                             "delta": diff.diff, "ci_low": diff.ci_low, "ci_high": diff.ci_high, "p_value": diff.p_value, "n": diff.n})
    return pd.DataFrame(rows, columns=COLUMNS)
