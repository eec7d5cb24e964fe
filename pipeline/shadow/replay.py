"""Shadow replay stages: prepare → infer the candidate over a request log → compare → persist.

Each stage takes the small :class:`ReplayPlan` and works from files in the
run's staging folder (the parsed log, the candidate's outputs, the results), so
the flow passes only the plan and paths between its tasks. Results are stored
like every other run's: long-format rows of the suite's candidate with variant
``shadow`` (whole log, per slice, per production class) and ``shadow@hour`` /
``shadow@day`` (one block per time window, the window named in ``dataset`` as
``<log>@<ISO start>``), committed by :func:`pipeline.commit.commit_staged_run`.

Candidate latency is measured on the driver: the wall time of each
``InferencePool.predict`` call on one batch of ``batch_rows`` rows (Ray
dispatch included), given to every row of that batch. With ``batch_rows=1``
(the default) it is a per-request latency, comparable with production's.

With ``from_mirror`` the candidate is not re-run: its answers and latencies are
the ones ``vigil shadow mirror`` logged beside production's, as served on live
traffic; rows the candidate did not answer are quarantined
(``no_candidate_answer:<status>``).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from evaluators.shadow import ShadowReport, replay_compare
from evaluators.shadow.report import row_ci_method
from evaluators.shadow.request_log.reader import LogCounts, ParsedLog
from evaluators.shadow.request_log.format import CANDIDATE_LATENCY_MS, CANDIDATE_PREDICTION, CANDIDATE_SCORES, candidate_outputs
from pipeline.evaluate.fingerprint import model_fingerprint
from pipeline.evaluate.plan import CarriesSuite, ModelEntry
from pipeline.evaluate.prepare import new_run_id
from pipeline.progress import report
from pipeline.shadow.log import replay_schema, stage_log
from storage.checksums import sha256_file
from storage.datasets import encode_labels, load_dataset
from storage.frames import read_frame, write_frame
from storage.provenance import collect_provenance
from storage.records import DatasetVersionRecord
from storage.request_log import ParquetAppender, iter_parquet_frames, parquet_columns
from suite.errors import VigilError
from suite.ids import check_run_id
from suite.load import load_suite
from suite.settings import Settings
from suite.spec import ModelSpec, SuiteSpec
from workers.checksum import verify_model

Window = Literal["hour", "day"]
VARIANT = "shadow"
_CHUNK_ROWS = 10_000
_LOG, _CANDIDATE, _RESULTS, _QUARANTINE, _REPORT = "log.parquet", "candidate.parquet", "results.parquet", "quarantine.parquet", "shadow.md"


class ReplayPlan(CarriesSuite):
    """What a replay works from: small public fields to pass between Prefect tasks, and the suite parsed once (``suite``)."""

    run_id: str
    suite_path: str
    suite_name: str
    suite_hash: str
    seed: int
    task: str
    trigger: str
    started_at: datetime
    model: ModelEntry
    features: list[str]
    classes: list[int | str] | None
    log_path: str
    log_name: str
    log_sha256: str
    labels_path: str | None
    window: Window | None
    batch_rows: int
    counts: dict[str, Any]
    candidate_source: Literal["replay", "mirror"] = "replay"
    staging: str

    def staged(self, name: str) -> Path:
        """A file in this run's staging folder."""
        return Path(self.staging) / name


def candidate_context(suite: SuiteSpec, model: str | None = None) -> tuple[ModelSpec, list[str], list[int | str] | None]:
    """The candidate's spec, the feature names in the order it takes them, and the suite's classes.

    Features and classes come from the suite's first evaluation dataset.

    Raises:
        VigilError: no such model, or the suite has no candidate or no evaluation dataset.
    """
    names = [m.name for m in suite.models]
    if model is not None:
        spec = next((m for m in suite.models if m.name == model), None)
        if spec is None:
            raise VigilError(f"suite {suite.source}: --candidate: expected one of {names}, got {model!r}")
    elif suite.candidates:
        spec = suite.candidates[0]
    else:
        raise VigilError(f"suite {suite.source}: models: expected a model with role candidate, got {names}")
    if not suite.evaluation_datasets:
        raise VigilError(f"suite {suite.source}: datasets: expected an evaluation dataset to take feature names from, got none")
    data = load_dataset(suite.evaluation_datasets[0], suite)
    classes = suite.classes
    if suite.task == "classification" and data.label:
        _, classes = encode_labels(data.meta[data.label], classes, f"suite {suite.source}: datasets ({data.name})")
    return spec, list(data.features), classes if suite.task == "classification" else None


def prepare_replay(
    suite_path: str | Path,
    log_path: str | Path,
    settings: Settings,
    *,
    labels_path: str | Path | None = None,
    window: Window | None = None,
    run_id: str | None = None,
    trigger: str = "shadow-replay",
    batch_rows: int = 1,
    model: str | None = None,
    from_mirror: bool = False,
) -> ReplayPlan:
    """Verify the suite's candidate (sha256), read and quarantine the log, and stage its valid rows.

    Raises:
        ChecksumError: the candidate's checkpoint does not match its pin.
        DataError: the log is unreadable, or every row was quarantined (e.g. none carries the candidate's features).
    """
    from storage.store import ResultStore

    if run_id is not None:
        check_run_id(run_id, "shadow replay: --run-id")
    if batch_rows < 1:
        raise VigilError(f"shadow replay: --batch-rows: expected a positive integer, got {batch_rows}")
    if window not in (None, "hour", "day"):
        raise VigilError(f"shadow replay: --window: expected hour or day, got {window!r}")
    suite = load_suite(suite_path)
    spec, features, classes = candidate_context(suite, model)
    checkpoint = verify_model(spec, suite.base_dir)
    now = datetime.now(UTC)
    run_id = run_id or new_run_id(suite.name, now)
    staging = ResultStore(settings).staging_dir(run_id)
    log_path = Path(log_path).resolve()
    schema = replay_schema(suite, features, classes, from_mirror=from_mirror)
    try:
        counts = stage_log(log_path, schema, staging / _LOG, staging / _QUARANTINE, labels_path=labels_path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sha = spec.sha256 or ""
    entry = ModelEntry(name=spec.name, sha256=sha, fingerprint=model_fingerprint(spec, suite).sha256, format=spec.format, role=spec.role,
                       path=str(checkpoint or ""), version=spec.version)
    plan = ReplayPlan(
        run_id=run_id,
        suite_path=str(Path(suite_path).resolve()),
        suite_name=suite.name,
        suite_hash=suite.fingerprint(),
        seed=suite.seed,
        task=suite.task,
        trigger=trigger,
        started_at=now,
        model=entry,
        features=features,
        classes=classes,
        log_path=str(log_path),
        log_name=log_path.stem if log_path.is_file() else log_path.name,
        log_sha256=_log_sha256(log_path),
        labels_path=None if labels_path is None else str(Path(labels_path).resolve()),
        window=window,
        batch_rows=batch_rows,
        candidate_source="mirror" if from_mirror else "replay",
        counts={"rows_in": counts.rows_in, "rows_scored": counts.rows_scored,
                "rows_quarantined": counts.rows_quarantined, "by_reason": counts.by_reason},
        staging=str(staging),
    )
    return plan.attach(suite)


def logged_candidate(plan: ReplayPlan) -> str:
    """The candidate's answers and latencies as the mirror logged them, staged like re-scored ones; returns their path."""
    columns = [CANDIDATE_PREDICTION, CANDIDATE_SCORES, CANDIDATE_LATENCY_MS]
    with ParquetAppender(plan.staged(_CANDIDATE)) as out:
        for frame in iter_parquet_frames(plan.staged(_LOG), columns):
            outputs, latency = candidate_outputs(frame, plan.task)
            out.append_frame(_candidate_frame(outputs, latency))
    return str(plan.staged(_CANDIDATE))


def infer_replay(plan: ReplayPlan, settings: Settings) -> str:
    """Score the staged rows with the candidate on warm Ray actors, a chunk at a time, timing each batch; returns the outputs' path."""
    if plan.candidate_source == "mirror":
        return logged_candidate(plan)
    from workers.cluster import ensure_ray
    from workers.warm_pools import close_pools, get_pool
    from workers.predictor import rows_of

    suite = plan.suite
    spec = next(m for m in suite.models if m.name == plan.model.name)
    ensure_ray(settings.ray_address)
    pool = get_pool(spec, suite.base_dir, task=suite.task, num_classes=len(plan.classes) if plan.classes else None, workers=suite.workers,
                    on_wait=lambda note: report("replay", 0, plan.counts["rows_scored"], note))
    offset = 0
    try:
        with ParquetAppender(plan.staged(_CANDIDATE)) as out:
            for frame in iter_parquet_frames(plan.staged(_LOG), plan.features, _CHUNK_ROWS):
                inputs: np.ndarray | pd.DataFrame = frame.to_numpy(np.float32) if spec.input == "array" else frame
                ids = np.arange(offset, offset + len(frame), dtype=np.int64)
                if offset == 0:  # warm-up: the first call pays lazy initialisation, not a request
                    pool.predict(rows_of(inputs, 0, 1), ids[:1])
                parts, latency = [], np.empty(len(frame))
                for start in range(0, len(frame), plan.batch_rows):
                    stop = min(start + plan.batch_rows, len(frame))
                    began = time.perf_counter()
                    parts.append(pool.predict(rows_of(inputs, start, stop), ids[start:stop]))
                    latency[start:stop] = (time.perf_counter() - began) * 1000
                    report("replay", offset + stop, plan.counts["rows_scored"], plan.model.name)
                out.append_frame(_candidate_frame(np.concatenate(parts), latency))
                offset += len(frame)
    finally:
        close_pools()
    return str(plan.staged(_CANDIDATE))


def _candidate_frame(outputs: np.ndarray, latency: np.ndarray) -> pd.DataFrame:
    outputs = np.asarray(outputs, float).reshape(len(latency), -1)
    table = pd.DataFrame(outputs, columns=[f"score_{k}" for k in range(outputs.shape[1])])
    table["latency_ms"] = latency
    return table


def compare_replay(plan: ReplayPlan, settings: Settings) -> str:
    """Compare the candidate's staged outputs with production's; stage the long results rows; returns their path."""
    suite = plan.suite
    slice_columns = {s.column for s in suite.slices}
    names = [c for c in parquet_columns(plan.staged(_LOG)) if c not in plan.features or c in slice_columns]
    frame = read_frame(plan.staged(_LOG), columns=names)  # the outputs and slice columns, not every feature
    candidate = read_frame(plan.staged(_CANDIDATE))
    outputs = candidate.filter(like="score_").to_numpy(float)
    if plan.task == "regression":
        outputs = outputs[:, 0]
    counts = LogCounts(**{k: plan.counts[k] for k in ("rows_in", "rows_scored", "rows_quarantined", "by_reason")})
    log = ParsedLog(frame, pd.DataFrame(), counts, tuple(plan.features))
    slices = [s for s in suite.slices if s.column in frame.columns]
    report = replay_compare(
        log, outputs, candidate["latency_ms"].to_numpy(), task=plan.task, window=plan.window,  # type: ignore[arg-type]
        slices=slices, bootstrap=suite.bootstrap, seed=plan.seed,
    )
    results = results_rows(plan, report)
    write_frame(plan.staged(_RESULTS), results)
    plan.staged(_REPORT).write_text(replay_markdown(plan, results))
    return str(plan.staged(_RESULTS))


def results_rows(plan: ReplayPlan, report: ShadowReport) -> pd.DataFrame:
    """The report as long-format results rows of the candidate (variant ``shadow`` and ``shadow@<window>``)."""
    rows = report.metrics.assign(dataset=plan.log_name, variant=VARIANT)
    if not report.windows.empty:
        windows = report.windows.assign(
            dataset=[f"{plan.log_name}@{t.isoformat()}" for t in report.windows["window_start"]],
            variant=f"{VARIANT}@{plan.window}",
            slice="all",
        ).drop(columns="window_start")
        rows = pd.concat([rows, windows], ignore_index=True)
    methods = [row_ci_method(metric, int(n)) if pd.notna(low) else None for metric, low, n in zip(rows["metric"], rows["ci_low"], rows["n"])]
    return rows.assign(
        model=plan.model.name, model_sha=plan.model.sha256, role=plan.model.role, metric_version=f"shadow-{report.version}",
        ci_method=methods,
    )


def persist_replay(plan: ReplayPlan, settings: Settings) -> str:
    """Commit the replay as a run of the suite (quarantine counts and file in its provenance); returns the run id."""
    from pipeline.commit import StagedArtifact, StagedRun, commit_staged_run, model_record  # the index's engine only when committing

    final = settings.run_dir(plan.run_id)
    provenance = collect_provenance(
        suite_path=Path(plan.suite_path), suite_hash=plan.suite_hash, seed=plan.seed,
        models={plan.model.name: plan.model.sha256}, datasets={plan.log_name: plan.log_sha256},
    )
    provenance["trigger"] = plan.trigger
    provenance["prediction_fingerprints"] = {plan.model.name: {"sha256": plan.model.fingerprint}}
    shadow = {
        "log": plan.log_path, "labels": plan.labels_path, "window": plan.window, **plan.counts,
        "quarantine_path": str(final / _QUARANTINE),
        "candidate_source": plan.candidate_source,
        "candidate_latency": "as the mirror logged it on live traffic" if plan.candidate_source == "mirror"
        else f"driver wall time per batch of {plan.batch_rows} row(s), Ray dispatch included",
    }
    run = StagedRun(
        run_id=plan.run_id, suite=plan.suite_name, suite_hash=plan.suite_hash, started_at=plan.started_at,
        trigger=plan.trigger, verdict="none", provenance=provenance, details={"shadow": shadow},
        models=[model_record(plan.model)],
        datasets=[DatasetVersionRecord(name=plan.log_name, sha256=plan.log_sha256, rows=plan.counts["rows_in"], source=plan.log_path)],
        artifacts=[
            StagedArtifact(kind="quarantine", file=_QUARANTINE, description=f"{plan.counts['rows_quarantined']} quarantined rows with reasons"),
            StagedArtifact(kind="shadow_report", file=_REPORT, description="shadow replay summary (markdown)"),
            StagedArtifact(kind="shadow_candidate", file=_CANDIDATE, description="candidate scores and latency per scored row"),
        ],
    )
    commit_staged_run(run, read_frame(plan.staged(_RESULTS)), settings)
    return plan.run_id


def replay_markdown(plan: ReplayPlan, results: pd.DataFrame) -> str:
    """A short markdown summary leading with agreement and flip rate."""
    overall = results[(results["variant"] == VARIANT) & (results["slice"] == "all")].set_index("metric")

    def cell(metric: str, fmt: str = "{:.4f}") -> str:
        if metric not in overall.index or pd.isna(overall.loc[metric, "value"]):
            return "–"
        row = overall.loc[metric]
        ci = "" if pd.isna(row["ci_low"]) else f" [{fmt.format(row['ci_low'])}, {fmt.format(row['ci_high'])}]"
        return fmt.format(row["value"]) + ci

    c = plan.counts
    lines = [
        f"# Shadow replay: {plan.model.name} vs production",
        "",
        f"**Agreement {cell('agreement_rate')}** · **flip rate {cell('flip_rate')}** (95% Wilson intervals)",
        "",
        f"Run `{plan.run_id}` · suite `{plan.suite_name}` · log `{plan.log_path}`",
        f"Rows in {c['rows_in']} = scored {c['rows_scored']} + quarantined {c['rows_quarantined']} {c['by_reason'] or ''}",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for metric in overall.index:
        if metric not in ("agreement_rate", "flip_rate"):
            lines.append(f"| {metric} | {cell(metric)} |")
    flips = results[(results["variant"] == VARIANT) & (results["slice"] != "all") & (results["metric"] == "flip_rate")]
    if len(flips):
        worst = flips.sort_values("value", ascending=False).head(5)
        lines += ["", "Highest flip rates by slice:", ""]
        lines += [f"- `{r.slice}`: {r.value:.4f} (n={r.n})" for r in worst.itertuples()]
    return "\n".join(lines) + "\n"


def _log_sha256(path: Path) -> str:
    """The log's bytes' sha256 (a folder of parts: of their names and digests, in order)."""
    if path.is_file():
        return sha256_file(path)
    import hashlib

    digest = hashlib.sha256()
    for part in sorted(p for p in path.glob("*.parquet") if not p.name.startswith(".")):
        digest.update(f"{part.name}:{sha256_file(part)}\n".encode())
    return digest.hexdigest()
