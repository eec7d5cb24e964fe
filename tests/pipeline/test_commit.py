"""pipeline.commit: every run kind commits once, through one function, on a real SQLite index.

Each kind's own caller (persist_run, persist_replay, the drift window's commit) is
run for real; a spy on :meth:`ResultStore.commit_run` counts the commits and checks,
just before each one, that the run is not yet visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipeline.commit import StagedArtifact, StagedRun, claim_run, commit_staged_run
from pipeline.evaluate.decide import Decision
from pipeline.evaluate.persist import persist_run
from pipeline.evaluate.plan import DatasetEntry, ModelEntry, RunPlan
from pipeline.evaluate.score import staged_results_path
from storage.frames import write_frame
from storage.run_lock import CLAIM_MARKER
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
CANCER = ROOT / "examples" / "breast_cancer"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", index_url=f"sqlite:///{tmp_path / 'home' / 'index.db'}", ray_address=None)


@pytest.fixture()
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The run ids ResultStore.commit_run was called with; each call first checks the run is not yet the one committed."""
    seen: list[str] = []
    original = ResultStore.commit_run

    def spy(self: ResultStore, run, results):  # type: ignore[no-untyped-def]
        before = self.get_run(run.run_id)
        assert before is None or before.finished_at != run.finished_at, "the run is visible before its commit"
        assert not (self.staging_dir(run.run_id) / CLAIM_MARKER).exists(), "the claim marker would move into runs/"
        seen.append(run.run_id)
        return original(self, run, results)

    monkeypatch.setattr(ResultStore, "commit_run", spy)
    yield seen


def _rows(value: float, dataset: str = "test", variant: str = "clean") -> pd.DataFrame:
    return pd.DataFrame([{"dataset": dataset, "model": "mlp", "model_sha": "aa" * 32, "role": "candidate", "variant": variant,
                          "slice": "all", "metric": "accuracy", "metric_version": "1", "value": value, "ci_low": value - 0.05,
                          "ci_high": value + 0.01, "n": 100}])


def _plan(run_id: str) -> RunPlan:
    return RunPlan(
        run_id=run_id, suite_path="/suites/digits.yaml", suite_name="digits", suite_hash="h1", seed=7, trigger="schedule", started_at=T0,
        models=[ModelEntry(name="mlp", sha256="aa" * 32, fingerprint="ff" * 32, format="torch", role="candidate", path="m.pt", version="2")],
        datasets=[DatasetEntry(name="test", sha256="cc" * 32, rows=100, source="data/test.csv")],
        variants=["clean"], provenance={"seed": 7, "trigger": "schedule"},
    )


def _stage_evaluation(settings: Settings, plan: RunPlan, accuracy: float) -> None:
    store = ResultStore(settings)
    staging = store.staging_dir(plan.run_id)
    write_frame(staged_results_path(store, plan.run_id), _rows(accuracy))
    (staging / "report.html").write_text("<html></html>")
    write_frame(staging / "drift.parquet", pd.DataFrame({"column": ["x"], "drifted": [False]}))


def test_an_evaluation_commits_once_with_its_files_and_a_rerun_replaces_it(settings: Settings, commits: list[str]) -> None:
    plan, store = _plan("digits-1"), ResultStore(settings)
    with claim_run(plan.run_id, settings):
        _stage_evaluation(settings, plan, 0.9)
        assert store.get_run(plan.run_id) is None and store.list_runs() == []
        persist_run(plan, Decision(verdict="pass"), settings)
    run = store.get_run(plan.run_id)
    assert commits == ["digits-1"] and run is not None
    assert (run.status, run.verdict, run.trigger, run.started_at) == ("completed", "pass", "schedule", T0)
    final = settings.run_dir(plan.run_id)
    assert [(a.kind, a.uri, a.description) for a in run.artifacts] == [
        ("gates", (final / "gates.json").as_uri(), "gate outcomes with evidence"),
        ("report", (final / "report.html").as_uri(), "report.html"),
        ("drift_table", (final / "drift.parquet").as_uri(), "drift per dataset × column"),
    ]
    assert list(run.provenance) == ["seed", "trigger", "ray_address", "placements", "prediction_sha256", "commit", "manifest_sha256"] and run.provenance["ray_address"] == "local"
    assert run.provenance["placements"] == {}  # no inference ran: no actors placed
    assert [(m.name, m.sha256, m.version) for m in run.models] == [("mlp", "aa" * 32, "2")]
    assert not (final / CLAIM_MARKER).exists() and (final / "gates.json").is_file()

    with claim_run(plan.run_id, settings):  # the same id again: replaced, not added
        _stage_evaluation(settings, plan, 0.7)
        persist_run(plan, Decision(verdict="fail"), settings)
    assert commits == ["digits-1", "digits-1"]
    assert [r.run_id for r in store.list_runs()] == ["digits-1"] and store.get_run("digits-1").verdict == "fail"  # type: ignore[union-attr]
    assert store.run_results("digits-1")["value"].tolist() == [0.7]
    assert store.history(suite="digits", metric="accuracy")["value"].tolist() == [0.7]
    assert len(list(settings.results_dir.glob("suite=*/date=*/run-digits-1.parquet"))) == 1


def test_the_shared_rules_artifacts_present_and_ray_address_between_provenance_and_details(settings: Settings, commits: list[str]) -> None:
    store = ResultStore(settings)
    staging = store.staging_dir("r1")
    staging.mkdir(parents=True)
    (staging / "a.txt").write_text("a")
    (staging / CLAIM_MARKER).write_text("1")
    run = StagedRun(run_id="r1", suite="s", suite_hash="h", started_at=T0, trigger="manual", provenance={"seed": 1},
                    details={"shadow": {"log": "x"}},
                    artifacts=[StagedArtifact(kind="b", file="b.txt"), StagedArtifact(kind="a", file="a.txt", description="A")])
    record = commit_staged_run(run, _rows(0.5), replace(settings, ray_address="ray://head:10001"))
    assert [(a.kind, a.description) for a in record.artifacts] == [("a", "A")]  # b.txt was never staged
    assert list(record.provenance) == ["seed", "ray_address", "shadow"] and record.provenance["ray_address"] == "ray://head:10001"
    assert record.verdict == "none" and record.status == "completed" and record.finished_at is not None
    assert not (settings.run_dir("r1") / CLAIM_MARKER).exists()

    quiet = commit_staged_run(run.model_copy(update={"run_id": "r2", "provenance": None}), _rows(0.5), settings)
    assert quiet.provenance == {"shadow": {"log": "x"}}  # no environment recorded, so no ray_address either
    assert commits == ["r1", "r2"] and sorted(r.run_id for r in store.list_runs()) == ["r1", "r2"]


def test_a_failed_commit_leaves_nothing_visible(settings: Settings) -> None:
    store = ResultStore(settings)
    bad = _rows(0.5).drop(columns="metric")  # the store refuses rows without a metric
    run = StagedRun(run_id="r3", suite="s", suite_hash="h", started_at=T0, trigger="manual")
    with pytest.raises(VigilError, match="missing.*metric"):
        commit_staged_run(run, bad, settings, store)
    assert store.get_run("r3") is None and store.list_runs() == []


def test_a_shadow_replay_commits_once_and_a_rerun_replaces_it(tmp_path: Path, vigil_home: Path, commits: list[str]) -> None:
    from pipeline.shadow.replay import compare_replay, logged_candidate, persist_replay, prepare_replay

    log = pd.read_parquet(CANCER / "shadow" / "requests.parquet").head(60)
    scores = [[float(v) for v in s] for s in log["scores"]]  # the candidate answers as production did
    log = log.assign(candidate_scores=scores, candidate_latency_ms=2.0, candidate_status="ok")
    path = tmp_path / "mirrored.parquet"
    log.to_parquet(path)
    settings, store = load_settings(), ResultStore(load_settings())
    for attempt in range(2):
        plan = prepare_replay(CANCER / "suite.yaml", path, settings, run_id="shadow-1", from_mirror=True)
        logged_candidate(plan)
        compare_replay(plan, settings)
        assert attempt == 1 or store.get_run("shadow-1") is None
        persist_replay(plan, settings)
    assert commits == ["shadow-1", "shadow-1"] and [r.run_id for r in store.list_runs()] == ["shadow-1"]
    run = store.get_run("shadow-1")
    assert run is not None and (run.verdict, run.trigger) == ("none", "shadow-replay")
    final = settings.run_dir("shadow-1")
    assert [(a.kind, a.uri) for a in run.artifacts] == [
        ("quarantine", (final / "quarantine.parquet").as_uri()),
        ("shadow_report", (final / "shadow.md").as_uri()),
        ("shadow_candidate", (final / "candidate.parquet").as_uri()),
    ]
    keys = list(run.provenance)
    assert keys[-5:] == ["prediction_fingerprints", "ray_address", "shadow", "commit", "manifest_sha256"]
    assert run.provenance["shadow"]["quarantine_path"] == str(final / "quarantine.parquet")
    assert run.provenance["shadow"]["candidate_source"] == "mirror"
    assert [(d.name, d.rows) for d in run.datasets] == [("mirrored", 60)]
    agreement = store.history(suite=run.suite, metric="agreement_rate", variant="shadow")
    assert agreement["run_id"].tolist() == ["shadow-1"] and agreement["value"].tolist() == [1.0]


def test_drift_windows_commit_once_each_without_ray_address_and_rerun_replaces(tmp_path: Path, vigil_home: Path, commits: list[str]) -> None:
    from pipeline.drift_watch.windows import TRIGGER, watch_windows
    from tests.drift.wiring_data import DAYS, write_suite

    suite = write_suite(tmp_path / "synth")
    settings = load_settings()
    first = watch_windows(str(suite), settings)
    assert commits == [o.run_id for o in first] and len(first) == DAYS
    again = watch_windows(str(suite), settings, since=datetime(2026, 5, 4))
    assert commits[DAYS:] == [first[-1].run_id]
    store = ResultStore(settings)
    assert sorted(r.run_id for r in store.list_runs(suite="synth")) == sorted(o.run_id for o in first)
    run = store.get_run(again[0].run_id)
    assert run is not None and (run.trigger, run.verdict) == (TRIGGER, "none")
    assert list(run.provenance) == ["window", "rows", "window_spec", "dataset", "reference", "calibration", "pattern", "signals", "commit", "manifest_sha256"]
    final = settings.run_dir(run.run_id)
    assert [(a.kind, a.uri, a.description) for a in run.artifacts] == [("drift_table", (final / "drift.parquet").as_uri(), "drift per window × column")]
    curve = store.history(suite="synth", metric="drift_share", dataset="stream")
    assert curve["run_id"].tolist() == [o.run_id for o in first]
