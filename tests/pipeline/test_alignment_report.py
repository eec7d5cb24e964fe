"""Objective alignment across model versions, read from committed runs' provenance."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluate.report import alignment_table
from storage.store import ResultStore
from suite.settings import load_settings
from tests.storage.factories import make_results, make_run


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_version_whose_proxy_improved_while_accuracy_fell_is_flagged(vigil_home: Path, backend: str) -> None:
    store = ResultStore(load_settings())
    # version: (validation loss — lower is better, downstream accuracy)
    history = [("v1", 0.40, 0.80), ("v2", 0.35, 0.84), ("v3", 0.30, 0.82), ("v4", 0.25, 0.86)]
    for day, (version, loss, accuracy) in enumerate(history):
        run = make_run(f"r{day}", day=day)
        run = run.model_copy(update={"provenance": {
            **run.provenance, "models": {"mlp": f"{day:02d}" * 32},
            "model_versions": {"mlp": version},
            "model_metadata": {"mlp": {"proxy": {"name": "val_loss", "value": loss, "higher_is_better": False}}},
        }})
        store.commit_run(run, make_results(run, accuracy=accuracy))
    table = alignment_table(store, "digits", "accuracy")
    assert table["version"].tolist() == ["v1", "v2", "v3", "v4"]
    assert table.loc[table["misaligned"], "version"].tolist() == ["v3"]
    assert table["spearman"].iloc[0] == pytest.approx(0.8)
    assert set(table["proxy_name"]) == {"val_loss"}
