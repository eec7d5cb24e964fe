"""Stage 1: load the suite, check every name and checksum, load the data, make the plan.

Nothing is evaluated until everything a run depends on has been verified: a
typo in a metric or format, a tampered checkpoint or a missing column stops the
run here with one clear line, before any worker starts.

This is the one place a run reads its suite file and its datasets: the plan
carries the parsed suite and the loaded data (with their checksums, verified
here) to every later stage.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluators.metrics import METRICS
from evaluators.data_checks import check_dataset
from pipeline.evaluate.fingerprint import check_code_pins, data_fingerprint, model_fingerprint, perturbation_params
from pipeline.evaluate.plan import DatasetEntry, ModelEntry, RunPlan
from pipeline.evaluate.upstream import check_upstream, upstream_digest
from pipeline.evaluate.variants import check_perturbations, variant_versions, variants_of
from storage.datasets import LoadedDataset, check_reference_labels, encode_labels, load_dataset
from storage.provenance import collect_provenance
from suite.errors import SpecError, VigilError
from suite.ids import check_run_id
from suite.load import load_suite_text, read_suite_text
from suite.spec import ModelSpec, SuiteSpec
from workers.checksum import verify_model
from workers.formats import MODEL_FORMATS


def new_run_id(suite_name: str, now: datetime) -> str:
    """A sortable, unique run id: ``<suite>-<UTC time>-<random>``."""
    return f"{suite_name[:96]}-{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def check_names(suite: SuiteSpec) -> None:
    """Every format and metric named in the suite exists, and suits the task."""
    for i, model in enumerate(suite.models):
        if model.format not in MODEL_FORMATS:
            raise SpecError(suite.source, f"models[{i}].format", MODEL_FORMATS.unknown_message(model.format))
    for i, name in enumerate(suite.metric_names()):
        if name not in METRICS:
            raise SpecError(suite.source, f"metrics[{i}]", METRICS.unknown_message(name))
        if METRICS.get(name).task != suite.task:
            raise SpecError(suite.source, f"metrics[{i}]", f"{name!r} is a {METRICS.get(name).task} metric, the suite's task is {suite.task}")
    metrics = set(suite.metric_names()) | ({"expected_cost"} if suite.costs is not None else set())
    if suite.costs is not None and suite.task != "classification":
        raise SpecError(suite.source, "costs", "a cost matrix needs a classification task")
    if suite.primary() not in metrics:
        raise SpecError(suite.source, "primary_metric", f"expected one of the suite's metrics {sorted(metrics)}, got {suite.primary()!r}")
    for i, gate in enumerate(suite.gates):
        if gate.metric not in metrics:
            raise SpecError(suite.source, f"gates[{i}].metric", f"expected one of the suite's metrics {sorted(metrics)}, got {gate.metric!r}")
        if gate.max_drop is not None and gate.max_drop_vs == "baseline" and suite.baseline is None:
            raise SpecError(suite.source, f"gates[{i}].max_drop_vs", "the suite has no model with role baseline")


def code_sha256(model: ModelSpec, suite: SuiteSpec) -> str:
    """A version for a model with no checkpoint: its spec plus its module file's bytes."""
    digest = hashlib.sha256(model.model_dump_json().encode())
    target = (model.module or "").split(":")[0]
    if target.endswith(".py") and suite.resolve(target).is_file():
        digest.update(suite.resolve(target).read_bytes())
    return digest.hexdigest()


def prepare_run(suite_path: str | Path, *, run_id: str | None = None, trigger: str = "manual", suite_text: str | None = None) -> RunPlan:
    """Verify a suite and everything it pins, and plan the run.

    Args:
        suite_path: The suite file; relative paths in it resolve against its folder.
        run_id: The run's id (default: a new one).
        trigger: What started the run.
        suite_text: The suite's text, read instead of the file (``vigil reproduce`` passes a run's stored text).

    Returns:
        The plan, holding the parsed suite (``plan.suite``) and every dataset the run reads
        (``plan.data(name)``: the evaluation datasets and the drift reference), each read once, here.
    """
    if run_id is not None:
        check_run_id(run_id)
    text = read_suite_text(suite_path) if suite_text is None else suite_text
    suite = load_suite_text(text, suite_path)
    if not suite.models:
        raise VigilError(f"suite {suite.source}: models: nothing to evaluate (the suite has no models; "
                         f"watch its logged outputs with `vigil drift --suite {suite_path}`)")
    check_names(suite)
    check_code_pins(suite)
    models, upstream, fingerprints = [], upstream_digest(suite), {}
    for i, model in enumerate(suite.models):
        path = verify_model(model, suite.base_dir, f"suite {suite.source}: models[{i}]")
        sha = model.sha256 or code_sha256(model, suite)
        if upstream is not None:  # the evaluated artifact is the pipeline: upstream modules + model
            sha = hashlib.sha256(f"{sha}+{upstream}".encode()).hexdigest()
        fingerprints[model.name] = model_fingerprint(model, suite, upstream)
        models.append(ModelEntry(name=model.name, sha256=sha, fingerprint=fingerprints[model.name].sha256, format=model.format,
                                 role=model.role, path=str(path or ""), version=model.version))
    datasets, classes, features, data = [], suite.classes, {}, {}
    for spec in suite.evaluation_datasets:
        loaded = data[spec.name] = load_dataset(spec, suite)
        features[spec.name] = loaded.features
        if spec.checks is not None:
            check_dataset(loaded.select([*spec.checks.required, *spec.checks.columns], present_only=True), spec.checks, f"{loaded.source} (suite {suite.source}, datasets[{suite.datasets.index(spec)}].checks)")
        if suite.task == "classification" and spec.label:
            _, classes = encode_labels(loaded.meta[spec.label], classes, f"suite {suite.source}: datasets[{suite.datasets.index(spec)}] ({spec.name}): column {spec.label}")
        datasets.append(DatasetEntry(name=spec.name, sha256=loaded.sha256, rows=loaded.rows, source=loaded.source))
    specs = {d.name: d for d in suite.datasets}
    for entry in datasets:  # the classes are known once every dataset is read
        entry.fingerprint = data_fingerprint(entry.sha256, specs[entry.name], suite.task, classes if suite.task == "classification" else None)
    if suite.drift is not None:  # the drift stage's reference (a use: reference dataset), read with the rest
        data[suite.drift.reference] = _load_named(suite, suite.drift.reference, "drift.reference")
    check_reference_labels(suite, classes or [], data.get(suite.drift.reference) if suite.drift is not None else None)
    check_perturbations(suite, features)
    check_upstream(suite, data)
    now = datetime.now(UTC)
    plan = RunPlan(
        run_id=run_id or new_run_id(suite.name, now),
        suite_path=str(Path(suite_path).resolve()),
        suite_name=suite.name,
        suite_hash=suite.fingerprint(),
        seed=suite.seed,
        trigger=trigger,
        started_at=now,
        models=models,
        datasets=datasets,
        variants=variants_of(suite),
        classes=classes if suite.task == "classification" else None,
        perturbation_versions=variant_versions(suite),
        perturbation_params=perturbation_params(suite),
        provenance={**run_provenance(suite, models, datasets, trigger),
                    "prediction_fingerprints": {name: {"sha256": fp.sha256, "inputs": fp.inputs} for name, fp in fingerprints.items()},
                    "suite_sha256": hashlib.sha256(text.encode()).hexdigest()},
    )
    return plan.attach(suite, data, text)


def _load_named(suite: SuiteSpec, name: str, field: str) -> LoadedDataset:
    spec = next((d for d in suite.datasets if d.name == name), None)
    if spec is None:
        raise VigilError(f"suite {suite.source}: {field}: expected one of the suite's datasets {[d.name for d in suite.datasets]}, got {name!r}")
    return load_dataset(spec, suite)


def run_provenance(suite: SuiteSpec, models: list[ModelEntry], datasets: list[DatasetEntry], trigger: str) -> dict[str, Any]:
    """Everything needed to reproduce the run: checksums, config hash, seed, software, machine."""
    provenance = collect_provenance(
        suite_path=suite.base_dir / Path(suite.source).name,
        suite_hash=suite.fingerprint(),
        seed=suite.seed,
        models={m.name: m.sha256 for m in models},
        datasets={d.name: d.sha256 for d in datasets},
    )
    provenance["perturbations"] = variant_versions(suite)
    provenance["model_metadata"] = {m.name: m.metadata for m in suite.models if m.metadata}
    provenance["model_versions"] = {m.name: m.version for m in suite.models if m.version}
    provenance["trigger"] = trigger
    provenance["primary_metric"] = suite.primary()
    return provenance
