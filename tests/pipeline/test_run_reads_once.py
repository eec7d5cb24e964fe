"""One `vigil run` reads its suite file once and each dataset it uses once: the plan carries them to every stage.

The real loaders run; each module that imported one gets a counting wrapper around it
(instrumentation, not a mock), so a stage that reached for a path again would show up here.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

import storage.datasets
import suite.load

STAGES = [
    "cli.main", "flows.evaluate", "flows.tasks", "pipeline.evaluate.prepare", "pipeline.evaluate.infer", "pipeline.evaluate.score",
    "pipeline.evaluate.drift", "pipeline.evaluate.decide", "pipeline.evaluate.analysis", "pipeline.evaluate.report",
    "pipeline.evaluate.persist", "pipeline.drift_watch.streams",
]


def _count_calls(monkeypatch: pytest.MonkeyPatch, real: Callable[..., Any], key: Callable[..., str]) -> Counter[str]:
    """Wrap ``real`` wherever it is importable from (its own module and every module that imported it)."""
    calls: Counter[str] = Counter()

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[key(*args, **kwargs)] += 1
        return real(*args, **kwargs)

    for module in list(sys.modules.values()):
        if getattr(module, real.__name__, None) is real:
            monkeypatch.setattr(module, real.__name__, counted)
    return calls


def _slim_keeping_drift(suite_path: Path) -> None:
    doc = yaml.safe_load(suite_path.read_text())
    doc.update({"bootstrap": {"resamples": 50}, "perturbations": [], "robustness_gates": []})
    suite_path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.usefixtures("prefect_server")
def test_vigil_run_loads_the_suite_once_and_each_dataset_once(digits_suite: Path, vigil_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    _slim_keeping_drift(digits_suite)  # the drift stage stays: its reference dataset is one of the run's datasets
    for name in STAGES:
        importlib.import_module(name)
    suites = _count_calls(monkeypatch, suite.load.read_suite_text, lambda path, *a, **k: Path(path).name)  # every read of a suite file goes through it
    datasets = _count_calls(monkeypatch, storage.datasets.load_dataset, lambda spec, *a, **k: spec.name)

    ran = CliRunner().invoke(app, ["run", str(digits_suite), "--run-id", "reads-once", "--json"])

    assert ran.exit_code == 0, ran.output
    assert suites == {"suite.yaml": 1}
    assert datasets == {"digits-test": 1, "digits-reference": 1}  # digits-stream is `vigil drift`'s, not the run's
    stored = _flow_run_parameters("reads-once")  # the API keeps the plan's small JSON, none of its data
    assert stored["plan"]["run_id"] == "reads-once" and len(json.dumps(stored)) < 20_000


def _flow_run_parameters(run_id: str) -> dict[str, Any]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs() if r.parameters.get("run_id") == run_id]
    assert len(runs) == 1, [r.parameters for r in runs]
    return runs[0].parameters


def test_the_plan_keeps_its_data_out_of_json_and_pickles(digits_suite: Path) -> None:
    from pipeline.evaluate.prepare import prepare_run
    from suite.errors import VigilError

    plan = prepare_run(digits_suite)
    assert plan.suite.name == "digits" and plan.data("digits-test").rows == plan.dataset("digits-test").rows
    assert plan.data("digits-test").sha256 == plan.dataset("digits-test").sha256  # verified once, recorded in the plan
    assert len(plan.model_dump_json()) < 20_000 and "pixel_0" not in plan.model_dump_json()
    restored = pickle.loads(pickle.dumps(plan))
    assert restored.model_dump() == plan.model_dump() and len(pickle.dumps(plan)) < 20_000
    with pytest.raises(VigilError, match="expected the parsed suite with the plan"):
        _ = restored.suite
