"""Model cards from stored runs: sections filled or saying what is missing, model-index front matter, the checklist."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.evaluate.card import build_model_card
from reports.card import card_html, card_markdown
from storage.store import ResultStore
from suite.errors import VigilError
from suite.settings import load_settings
from tests.storage.factories import make_results, make_run

SECTIONS = ("## Model details", "## Evaluation data", "## Metrics", "## Limitations (measured)", "## Release checklist")


def front_matter(markdown: str) -> dict:
    """The YAML block between the first two ``---`` lines."""
    assert markdown.startswith("---\n")
    return yaml.safe_load(markdown.split("---\n")[1])


@pytest.fixture()
def store(tmp_path: Path) -> ResultStore:
    """Two committed runs of suite digits (mlp at accuracy 0.90 then 0.93), the second with declared metadata."""
    store = ResultStore(load_settings(home=tmp_path / "home"))
    first = make_run("r1", day=0)
    store.commit_run(first, make_results(first, accuracy=0.90))
    second = make_run("r2", day=1).model_copy(update={"provenance": {
        "seed": 7, "python": "3.12.0", "packages": {"pandas": "2"}, "platform": "Linux", "primary_metric": "accuracy",
        "model_metadata": {"mlp": {"license": "apache-2.0", "training_data": "sklearn digits, train split", "owner": "team-a"}}}})
    store.commit_run(second, make_results(second, accuracy=0.93, seed=1))
    return store


def test_a_card_from_stored_runs_has_every_section_and_parses(store: ResultStore) -> None:
    card = build_model_card(store.settings, suite="digits", model="mlp")
    text = card_markdown(card)
    for heading in SECTIONS:
        assert heading in text
    meta = front_matter(text)
    assert meta["license"] == "apache-2.0"
    result = meta["model-index"][0]
    assert result["name"] == "mlp"
    metrics = {m["type"]: m for m in result["results"][0]["metrics"]}
    assert metrics["accuracy"]["value"] == pytest.approx(0.93)
    assert "95% CI 0.8800–0.9800" in metrics["accuracy"]["name"]
    assert result["results"][0]["dataset"]["name"] == "test"
    assert "label=3" in text  # per-slice metrics vs the baseline
    assert "sklearn digits, train split" in text and "**owner** (declared): team-a" in text
    assert "Training compute**: not declared" in text and "Intended use**: not declared" in text
    assert "no drift windows stored for this suite" in text  # a source with no data says so
    assert "Performance over time** (accuracy, 2 runs" in text
    assert "not declared" not in [c.evidence for c in card.checklist if c.item == "licence"][0]
    assert "<h3>Release checklist</h3>" in card_html(card)


def test_the_checklist_flags_a_missing_licence(store: ResultStore) -> None:
    card = build_model_card(store.settings, suite="digits", model="mlp", run_id="r1")  # r1 declares nothing
    text = card_markdown(card)
    assert "licence" in card.missing() and "data provenance" in card.missing()
    assert "license" not in front_matter(text)
    assert "# license: not declared" in text
    assert "| **MISSING** | licence |" in text


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"model": "nope"}, "model 'nope': no completed run of suite 'digits' evaluated it"),
    ({"model": "mlp", "run_id": "r9"}, "--run 'r9': no such run"),
    ({"model": "mlp", "suite": "other"}, "suite 'other': no completed evaluation runs stored"),
])
def test_bad_input_names_it(store: ResultStore, kwargs: dict, expected: str) -> None:
    with pytest.raises(VigilError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        build_model_card(store.settings, **{"suite": "digits", **kwargs})


def test_drift_windows_of_the_suite_show_as_sensitivity_to_drift(store: ResultStore) -> None:
    for i, (share, accuracy) in enumerate([(0.0, 0.95), (0.5, 0.70)]):
        window = make_run(f"digits-drift-stream-{i}", day=2 + i).model_copy(update={"trigger": "drift-watch", "verdict": "none"})
        rows = make_results(window).iloc[:2].copy()
        rows[["model", "metric", "value", "ci_low", "ci_high"]] = [["data", "drift_share", share, None, None],
                                                                  ["mlp", "accuracy", accuracy, None, None]]
        store.commit_run(window, rows.assign(slice="all", variant="clean"))
    text = card_markdown(build_model_card(store.settings, suite="digits", model="mlp"))
    assert "2 drift windows stored" in text and "1 with drifted columns" in text
    assert "labelled accuracy 0.9500 in windows without drift vs 0.7000 with drift" in text
    assert "metrics from run `r2`" in text  # a drift window is never the card's run
