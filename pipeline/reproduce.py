"""Reproducing a stored run: its stored suite text, its inputs checked against their recorded sha256s, and the comparison.

``vigil reproduce RUN`` (:mod:`cli.reproduce`) plans the run again from the
suite text the run stored (``runs/<id>/suite.yaml``), read against the folder the
suite was first read from, so its relative paths name the same files. Before
anything runs, every model and dataset the new plan read must have the sha256
the run recorded (:func:`changed_inputs`). The recomputed run's results are then
compared with the stored ones bit for bit (:func:`moved_metrics`), with the
prediction hashes (:func:`changed_predictions`), and the environment each ran in
is set side by side (:func:`environment_changes`).

Example:
    >>> import pandas as pd
    >>> row = {"dataset": "d", "model": "m", "variant": "clean", "slice": "all", "metric": "accuracy",
    ...        "value": 0.9, "ci_low": 0.8, "ci_high": 0.95, "n": 10}
    >>> moved_metrics(pd.DataFrame([row]), pd.DataFrame([{**row, "ci_low": 0.81}]))
    ['d/m/clean/all/accuracy: ci_low 0.8 → 0.81']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.evaluate.persist import SUITE_FILE
from pipeline.evaluate.plan import RunPlan
from storage.records import RunRecord
from suite.errors import VigilError
from suite.settings import Settings

COMPARED = ("value", "ci_low", "ci_high", "n")
"""The columns of a results row that must match bit for bit."""
_ROW = ("dataset", "model", "variant", "slice", "metric")
_ENVIRONMENT = ("python", "python_implementation", "platform", "hostname", "cpu", "gpu")


def stored_suite(record: RunRecord, settings: Settings) -> tuple[str, Path]:
    """The exact suite text a run stored, and the path it was first read from (its relative paths resolve there).

    Raises:
        VigilError: the run stored no suite text (committed before runs stored it, or not an evaluation run).
    """
    path = settings.run_dir(record.run_id) / SUITE_FILE
    if not path.is_file():
        raise VigilError(f"run {record.run_id!r}: cannot reproduce: no stored suite text ({path} is missing; "
                         "runs committed before suites were stored cannot be replayed, pass --suite to run a file instead)")
    origin = (record.provenance.get("suite") or {}).get("path")
    if not origin:
        raise VigilError(f"run {record.run_id!r}: cannot reproduce: its provenance records no suite path")
    return path.read_bytes().decode("utf-8"), Path(origin)


def changed_inputs(plan: RunPlan, record: RunRecord) -> list[str]:
    """Each model and dataset whose sha256 now differs from the run's record (or that the run did not have), one line each."""
    problems: list[str] = []
    sides = (("model", plan.models, record.models, lambda e: e.path or "its code"),
             ("dataset", plan.datasets, record.datasets, lambda e: e.source))
    for kind, now, then, where in sides:
        recorded = {r.name: r for r in then}
        for entry in now:
            before = recorded.get(entry.name)
            if before is None:
                problems.append(f"{kind} {entry.name!r}: not in the run")
            elif before.sha256 != entry.sha256:
                problems.append(f"{kind} {entry.name!r} ({where(entry)}): sha256 {before.sha256[:12]}… recorded, now {entry.sha256[:12]}…")
    missing = sorted({m.name for m in record.models} - {m.name for m in plan.models})
    missing += sorted({d.name for d in record.datasets} - {d.name for d in plan.datasets})
    problems += [f"{name!r}: in the run, not in the suite now" for name in missing]
    return problems


def _same(a: Any, b: Any) -> bool:
    return (pd.isna(a) and pd.isna(b)) or a == b


def _shown(value: Any) -> str:
    return repr(value.item() if hasattr(value, "item") else value)  # 0.93, not np.float64(0.93): every digit, no type noise


def moved_metrics(stored: pd.DataFrame, again: pd.DataFrame) -> list[str]:
    """Each results row whose value, CI or n differs (exactly), or that only one side has: ``dataset/model/variant/slice/metric: …``."""
    left = stored.set_index(list(_ROW))[list(COMPARED)]
    right = again.set_index(list(_ROW))[list(COMPARED)]
    lines = []
    for key in left.index.union(right.index):
        name = "/".join(map(str, key))
        if key not in right.index:
            lines.append(f"{name}: only in the stored run")
        elif key not in left.index:
            lines.append(f"{name}: only in the reproduction")
        else:
            moved = [f"{c} {_shown(left.at[key, c])} → {_shown(right.at[key, c])}" for c in COMPARED if not _same(left.at[key, c], right.at[key, c])]
            if moved:
                lines.append(f"{name}: {', '.join(moved)}")
    return lines


def changed_predictions(stored: dict[str, str], again: dict[str, str]) -> list[str]:
    """Each ``model/dataset/variant`` whose predictions hash differs, or that only one side has."""
    return [f"predictions {key}: {'differ' if key in stored and key in again else 'only on one side'}"
            for key in sorted({*stored} | {*again}) if stored.get(key) != again.get(key)]


def environment_changes(stored: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """Where the environment differs: package versions, Python, platform, machine (``name: then → now``)."""
    lines = [f"{key}: {stored.get(key)!r} → {now.get(key)!r}" for key in _ENVIRONMENT if stored.get(key) != now.get(key)]
    before, after = stored.get("packages") or {}, now.get("packages") or {}
    lines += [f"{name}: {before.get(name)} → {after.get(name)}" for name in sorted({*before} | {*after}) if before.get(name) != after.get(name)]
    return lines
