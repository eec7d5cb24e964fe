"""Stage 2: run one model on one dataset under one variant, on warm Ray actors.

Predictions land in the content-addressed cache keyed by (model sha, data sha,
variant, seed): an unchanged re-run finds them there and skips inference.
Perturbed variants are made on the workers from (seed, sample id), never
shipped from the driver.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd

from pipeline.plan import RunPlan, WorkItem
from pipeline.progress import report
from pipeline.variants import variant_transform
from storage.cache import PredictionCache, prediction_key
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels, load_dataset
from suite.errors import ChecksumError
from suite.load import load_suite
from suite.settings import Settings
from suite.spec import ModelSpec, SuiteSpec
from workers.cluster import ensure_ray
from workers.pool import close_pools, get_pool


def prediction_cache_key(plan: RunPlan, item: WorkItem, settings: Settings) -> str:
    """The Prefect cache key of an inference task: the prediction key while its file exists."""
    key = prediction_key(plan.model(item.model).sha256, plan.dataset(item.dataset).sha256, item.variant, plan.seed)
    return key if PredictionCache(settings.cache_dir).has(key) else f"{key}-missing-{uuid.uuid4().hex}"


def predictions_frame(data: LoadedDataset, outputs: np.ndarray, suite: SuiteSpec, classes: list[int | str] | None) -> pd.DataFrame:
    """A predictions table: sample_id, y_true, y_pred and per-class scores."""
    frame = pd.DataFrame({SAMPLE_ID: data.sample_ids})
    if suite.task == "classification":
        y_true, _ = encode_labels(data.frame[data.label], classes, f"dataset {data.name}")
        frame["y_true"] = y_true
        frame["y_pred"] = outputs.argmax(axis=1).astype(np.int64)
        scores = pd.DataFrame(outputs.astype(np.float32), columns=[f"score_{k}" for k in range(outputs.shape[1])])
        return pd.concat([frame, scores], axis=1)
    frame["y_true"] = data.frame[data.label].to_numpy(dtype=np.float64)
    frame["y_pred"] = outputs.astype(np.float64).reshape(-1)
    return frame


def model_inputs(data: LoadedDataset, spec: ModelSpec) -> np.ndarray | pd.DataFrame:
    """The features in the form the model takes: a float32 matrix or a frame."""
    features = data.frame[data.features]
    return features.to_numpy(dtype=np.float32) if spec.input == "array" else features.reset_index(drop=True)


def infer_item(plan: RunPlan, item: WorkItem, settings: Settings) -> str:
    """Predict ``item`` (cached by content); returns the prediction cache key."""
    entry, dataset = plan.model(item.model), plan.dataset(item.dataset)
    key = prediction_key(entry.sha256, dataset.sha256, item.variant, plan.seed)
    cache = PredictionCache(settings.cache_dir)
    index = [i.model_dump() for i in plan.work_items()].index(item.model_dump())
    if not cache.has(key):
        suite = load_suite(plan.suite_path)
        spec = next(m for m in suite.models if m.name == item.model)
        data = load_dataset(next(d for d in suite.datasets if d.name == item.dataset), suite)
        if data.sha256 != dataset.sha256:
            raise ChecksumError(f"dataset {data.name}: changed during run {plan.run_id} (was {dataset.sha256[:12]}…, now {data.sha256[:12]}…)")
        ensure_ray(settings.ray_address)
        num_classes = len(plan.classes) if plan.classes else None
        pool = get_pool(spec, suite.base_dir, task=suite.task, num_classes=num_classes, workers=suite.workers)
        transform = variant_transform(suite, data, item.variant, plan.seed)
        outputs = pool.predict(model_inputs(data, spec), data.sample_ids, transform)
        cache.put(key, predictions_frame(data, outputs, suite, plan.classes))
    report("infer", index + 1, len(plan.work_items()), f"{item.model} · {item.variant}")
    return key


def release_model(plan: RunPlan, model: str) -> None:
    """Stop the warm actors once a model's work is done, freeing their CPUs/GPUs for the next."""
    close_pools()
