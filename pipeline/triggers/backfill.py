"""Backfill: re-run a suite over past model versions and past time windows.

A backfill is a grid of pieces (model version × data window). Each piece has a
key-derived run id, so a piece already recorded is skipped on a re-run and an
interrupted backfill resumes where it stopped. The aging curve reads the
pieces' results back: one model version's metric on each later window.

Example:
    >>> piece = BackfillPiece(suite="digits", model="cnn", version="v1", window="2024-01")
    >>> piece.run_id
    'digits-bf-cnn-v1-2024-01'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from pipeline.triggers.derive import ModelUpdate, derive_suite
from storage.datasets import load_dataset
from storage.frames import write_frame
from suite.errors import VigilError
from suite.spec import SuiteSpec

CURRENT = "current"
ALL_DATA = "all"


class BackfillPiece(BaseModel):
    """One run of a backfill: a model version (or the suite's own) on one window (or all data)."""

    model_config = ConfigDict(frozen=True)

    suite: str
    model: str | None = None
    version: str = CURRENT
    path: str | None = None
    sha256: str | None = None
    window: str = ALL_DATA
    window_path: str | None = None

    @property
    def run_id(self) -> str:
        """``<suite>-bf-<model>-<version>-<window>``: the key a finished piece is found by."""
        raw = f"{self.suite}-bf-{self.model or 'suite'}-{self.version}-{self.window}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)[:120]


def split_windows(suite: SuiteSpec, dataset: str, freq: str, target: Path) -> dict[str, str]:
    """Cut one dataset into time windows (pandas period ``freq``: ``D``, ``W``, ``M``…), one Parquet file each.

    Returns ``{window label: file path}`` in time order. The files keep the
    rows' sample ids, so a window's results pair with the full set's.
    """
    spec = next((d for d in suite.datasets if d.name == dataset), None)
    if spec is None:
        raise VigilError(f"backfill: dataset: expected one of {[d.name for d in suite.datasets]}, got {dataset!r}")
    if spec.timestamp is None:
        raise VigilError(f"suite {suite.source}: datasets ({dataset}).timestamp: windows need a timestamp column, got none")
    data = load_dataset(spec, suite)
    stamps = pd.to_datetime(data.frame[spec.timestamp], utc=True)
    out = {}
    for period, rows in data.frame.groupby(stamps.dt.tz_localize(None).dt.to_period(freq), sort=True):
        label = str(period)
        path = target / f"{dataset}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', label)}.parquet"
        write_frame(path, rows.reset_index(drop=True))
        out[label] = str(path)
    return out


def plan_backfill(suite: SuiteSpec, *, versions: Sequence[ModelUpdate] = (), windows: dict[str, str] | None = None) -> list[BackfillPiece]:
    """Every (version × window) piece; no versions means the suite's own models, no windows all data."""
    known = [m.name for m in suite.models]
    for update in versions:
        if update.model not in known:
            raise VigilError(f"backfill: model: expected one of {known}, got {update.model!r}")
    chosen = [(u.model, u.version, u.path, u.sha256) for u in versions] or [(None, CURRENT, None, None)]
    cuts = list((windows or {ALL_DATA: None}).items())
    return [
        BackfillPiece(suite=suite.name, model=m, version=v, path=p, sha256=s, window=w, window_path=wp)
        for m, v, p, s in chosen
        for w, wp in cuts
    ]


def piece_suite(suite_path: str, piece: BackfillPiece, dataset: str | None, target: Path) -> Path:
    """The derived suite of one piece: its model version swapped in, its window as the dataset."""
    models = {piece.model: {k: v for k, v in {"version": piece.version, "path": piece.path, "sha256": piece.sha256}.items() if v}} if piece.model else {}
    datasets = {dataset: {"path": piece.window_path, "loader": None, "sha256": None, "id_column": None}} if dataset and piece.window_path else {}
    return derive_suite(suite_path, target / f"{piece.run_id}.yaml", models=models, datasets=datasets)


def aging_curve(results: pd.DataFrame, pieces: list[BackfillPiece], metric: str) -> pd.DataFrame:
    """Metric of each version on each window (clean data, all rows), in time order, with CIs."""
    by_run = {p.run_id: p for p in pieces}
    rows = results[(results["metric"] == metric) & (results["variant"] == "clean") & (results["slice"] == "all")]
    rows = rows[rows["run_id"].isin(by_run)]
    curve = rows.assign(
        version=[by_run[r].version for r in rows["run_id"]],
        window=[by_run[r].window for r in rows["run_id"]],
        order=[list(by_run).index(r) for r in rows["run_id"]],
    )
    cols = ["model", "version", "window", "metric", "value", "ci_low", "ci_high", "n", "run_id"]
    return curve.sort_values(["model", "order"])[cols].reset_index(drop=True)
