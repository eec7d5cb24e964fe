"""`vigil card` for both examples from real runs: every section filled, model-index as stored, the licence flagged, the artifact."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from flows.evaluate import evaluate_suite
from flows.publish import card_key
from storage.store import ResultStore
from suite.settings import load_settings
from tests.pipeline.test_card import SECTIONS, front_matter
from tests.suite_edits import slim_suite

pytestmark = pytest.mark.usefixtures("prefect_server")


def _card(*args: str) -> tuple[int, str]:
    done = CliRunner().invoke(app, ["card", *args])
    return done.exit_code, done.output


def _check(text: str, run_id: str, model: str) -> None:
    for heading in SECTIONS:
        assert heading in text
    stored = ResultStore(load_settings()).run_results(run_id)
    whole = stored[(stored.model == model) & (stored.variant == "clean") & (stored.slice == "all")].set_index("metric")["value"]
    metrics = {m["type"]: m["value"] for m in front_matter(text)["model-index"][0]["results"][0]["metrics"]}
    assert metrics == pytest.approx({k: round(v, 6) for k, v in whole.items()})
    assert "license" not in front_matter(text) and "| **MISSING** | licence |" in text  # neither example declares one
    assert "| yes | data provenance |" in text and "Training data sources**: scikit-learn's bundled" in text
    assert "Intended use**: not declared" in text
    assert "no drift windows stored for this suite" in text and "no earlier version of" in text
    assert "**Worst slices**" in text and "**Calibration**: expected calibration error" in text


def test_cards_of_both_examples(digits_suite: Path, cancer_suite: Path, vigil_home: Path, tmp_path: Path) -> None:
    slim_suite(digits_suite, perturbations=[{"kind": "occlusion", "severities": [2, 4]}])
    evaluate_suite(suite_path=str(digits_suite), run_id="card-digits")
    code, text = _card("cnn", "--suite", str(digits_suite))
    assert code == 0, text
    _check(text, "card-digits", "cnn")
    assert "**Robustness, occlusion** (digits-test): " in text
    assert "id=\"cards\"" in (vigil_home / "runs" / "card-digits" / "report.html").read_text()

    slim_suite(cancer_suite, drift_gate=None)
    evaluate_suite(suite_path=str(cancer_suite), run_id="card-cancer")
    out = tmp_path / "MODEL_CARD.md"
    code, text = _card("boosting", "--suite", "breast-cancer", "--run", "card-cancer", "-o", str(out))  # a stored suite's name
    assert code == 0, text
    _check(out.read_text(), "card-cancer", "boosting")
    assert "mean_radius" in out.read_text()  # the slice definition, from the suite file the run recorded
    assert "no perturbations stored for this run" in out.read_text()

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[card_key("breast-cancer", "boosting")])))
    assert found and "# Model card: boosting" in str(found[0].data)

    for args, named in ((["nope", "--suite", "breast-cancer"], "model 'nope'"), (["boosting", "--suite", "nosuch"], "'nosuch'"),
                        (["boosting", "--suite", "breast-cancer", "--run", "card-digits"], "--run 'card-digits'")):
        code, text = _card(*args)
        assert code == 2 and named in text and len(text.strip().splitlines()) == 1, text

