"""Stage 2: run one model on one dataset under one variant, on warm Ray actors.

Predictions land in the content-addressed cache keyed by (the model's
prediction fingerprint, the data's fingerprint, the variant with its
perturbation version, seed; see :meth:`pipeline.evaluate.plan.RunPlan.cache_key`): an
unchanged re-run finds them there and skips inference. Perturbed variants are made on the workers from
(seed, sample id), never shipped from the driver.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd

from pipeline.evaluate.plan import RunPlan, WorkItem
from pipeline.progress import report
from pipeline.evaluate.upstream import with_upstream
from pipeline.evaluate.variants import bound_perturbation, is_label_variant
from storage.cache import PredictionCache
from storage.datasets import SAMPLE_ID, LoadedDataset, encode_labels
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings
from suite.spec import ModelSpec, SuiteSpec
from workers.cluster import ensure_ray
from workers.warm_pools import close_pools, get_pool
from workers.row_files import RowFile


def prediction_cache_key(plan: RunPlan, item: WorkItem, settings: Settings, has_record: Callable[[str], bool]) -> str:
    """The orchestrator's cache key of an inference task: the prediction key, unless it would serve a lost file.

    The key is computed before the task runs, and the orchestrator stores its record under it, so
    the first run must already use the real key for the next run to be served from its cache. Only
    when a record exists under the key (``has_record``) but the predictions file is gone (a
    cleared cache) does the task get a key of its own, so it runs again instead of returning a URI
    to nothing.
    """
    key = plan.cache_key(item.model, item.dataset, item.variant)
    if PredictionCache(settings.cache_dir).has(key) or not has_record(key):
        return key
    return f"{key}-missing-{uuid.uuid4().hex}"


def start_workers(plan: RunPlan, settings: Settings) -> bool:
    """Connect to Ray (or start a local one) now if some prediction of the plan is not cached; returns whether it did.

    ``vigil run`` calls it from the main thread while Prefect's server boots, so
    Ray's start (seconds) overlaps the server's instead of following it; a run
    whose predictions are all cached starts no Ray.
    """
    cache = PredictionCache(settings.cache_dir)
    if all(cache.has(plan.cache_key(item.model, item.dataset, item.variant)) for item in plan.work_items()):
        return False
    ensure_ray(settings.ray_address)
    return True


def predictions_frame(data: LoadedDataset, outputs: np.ndarray, suite: SuiteSpec, classes: list[int | str] | None) -> pd.DataFrame:
    """A predictions table in the dataset's row order: sample_id, y_true, y_pred and per-class float32 scores.

    Built from one dict of columns (one copy of the scores), not a frame concatenated with another.
    """
    columns: dict[str, np.ndarray] = {SAMPLE_ID: data.sample_ids}
    labels = data.meta[data.label]
    if suite.task == "classification":
        columns["y_true"] = encode_labels(labels, classes, f"dataset {data.name}")[0]
        columns["y_pred"] = outputs.argmax(axis=1).astype(np.int64, copy=False)  # argmax gives intp: no second copy
        scores = outputs.astype(np.float32, copy=False)
        columns.update({f"score_{k}": scores[:, k] for k in range(scores.shape[1])})
        return pd.DataFrame(columns, copy=False)
    columns["y_true"] = labels.to_numpy(dtype=np.float64)
    columns["y_pred"] = outputs.astype(np.float64).reshape(-1)
    return pd.DataFrame(columns, copy=False)


def model_inputs(data: LoadedDataset, spec: ModelSpec) -> np.ndarray | pd.DataFrame | RowFile:
    """The features in the form the model takes: a float32 matrix, a frame, or (for an array model on a
    Parquet-held dataset) a :class:`~workers.row_files.RowFile` whose row ranges the workers read themselves."""
    if spec.input == "array" and data.feature_file is not None:
        return RowFile(data.feature_file, data.rows, tuple(data.features))
    features = data.select(data.features)
    return features.to_numpy(dtype=np.float32) if spec.input == "array" else features.reset_index(drop=True)


def _predict(plan: RunPlan, item: WorkItem, suite: SuiteSpec, data: LoadedDataset, settings: Settings) -> pd.DataFrame:
    spec = next((m for m in suite.models if m.name == item.model), None)
    if spec is None:
        raise VigilError(f"suite {suite.source}: work item {item.model} · {item.dataset}: expected one of the suite's models {[m.name for m in suite.models]}")
    num_classes = len(plan.classes) if plan.classes else None
    label_variant = is_label_variant(item.variant)
    transform = None if label_variant else bound_perturbation(suite, data, item.variant, plan.seed, num_classes)
    transform = with_upstream(suite, item.variant, transform, data)  # checked before any actor starts
    ensure_ray(settings.ray_address)
    items = plan.work_items()
    pool = get_pool(spec, suite.base_dir, task=suite.task, num_classes=num_classes, workers=suite.workers,
                    on_wait=lambda note: report("infer", items.index(item), len(items), f"{item.model}: {note}"))
    _note_placement(plan, spec, pool.placements(), settings)
    outputs = pool.predict(model_inputs(data, spec), data.sample_ids, transform, data_key=f"{data.sha256}:{spec.input}")
    frame = predictions_frame(data, outputs, suite, plan.classes)
    if label_variant:
        noise = bound_perturbation(suite, data, item.variant, plan.seed, num_classes)
        assert noise is not None
        frame["y_true"] = noise(frame["y_true"].to_numpy(), frame[SAMPLE_ID].to_numpy())
    return frame


def _note_placement(plan: RunPlan, spec: ModelSpec, placements: list[dict], settings: Settings) -> None:
    """Stage where this model's actors ran (node, GPU ids, GPU, precision) for the run's provenance (``placements``)."""
    path = ResultStore(settings).staging_dir(plan.run_id) / "placements" / f"{spec.name}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(placements, default=str))


def staged_placements(plan: RunPlan, settings: Settings) -> dict[str, list[dict]]:
    """Model name → its actors' placements, as staged by the inference tasks of this run."""
    folder = ResultStore(settings).staging_dir(plan.run_id) / "placements"
    return {p.stem: json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def infer_item(plan: RunPlan, item: WorkItem, settings: Settings) -> str:
    """Predict ``item`` (cached by content) on the suite and data the plan holds; returns the prediction cache key."""
    key = plan.cache_key(item.model, item.dataset, item.variant)
    cache = PredictionCache(settings.cache_dir)
    if not cache.has(key):
        cache.put(key, _predict(plan, item, plan.suite, plan.data(item.dataset), settings))
    items = plan.work_items()
    report("infer", items.index(item) + 1, len(items), f"{item.model} · {item.variant}")
    return key


def release_workers() -> None:
    """Stop the warm actors (once a model's work is done, or the run failed), freeing their CPUs/GPUs."""
    close_pools()
