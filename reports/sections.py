"""The report's evidence sections that need more than a chart and a table: each returns HTML, empty when it has nothing to show."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from typing import Any

import pandas as pd

from reports import figures
from reports.data import ReportData
from reports.plotly_bundle import figure_div

Cells = dict[str, Callable[[Any], str]]


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: numbers to ``digits`` significant digits, NaN as an em dash, text escaped."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return "∞" if math.isinf(value) else f"{value:.{digits}g}"
    return html.escape(str(value))


def table(frame: pd.DataFrame, cells: Cells, numeric: set[str], headers: dict[str, str] | None = None) -> str:
    """An HTML table of ``frame``'s columns named in ``cells``, each rendered by its function."""
    head = "".join(f"<th>{html.escape((headers or {}).get(c, c))}</th>" for c in cells)
    rows = []
    for _, row in frame.iterrows():
        tds = "".join(f"<td class='{'num' if c in numeric else ''}'>{render(row.get(c))}</td>" for c, render in cells.items())
        rows.append(f"<tr>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def note(text: str) -> str:
    """A grey explanatory paragraph (``text`` is escaped)."""
    return f"<p class='note'>{html.escape(text)}</p>"


# ---- drift ---------------------------------------------------------------------------------
_DRIFT_SHOWN = ["column", "method", "score", "threshold", "effect", "effect_floor", "drifted"]


def drift(data: ReportData) -> str:
    """Per-column chart (effect vs floor, or score vs threshold), a per-window curve, and a compact table.

    Columns that are the same on every row (run id, suite, sample sizes, the
    policy's alpha) are said once above the table instead of on each row.
    """
    frame = data.drift
    if frame is None or frame.empty:
        return ""
    rows = figures.latest_window(frame)
    drifted = rows["drifted"].astype(bool)
    window = ""
    if "window_start" in rows and rows["window_start"].notna().any():
        window = f" in the last window (from {pd.Timestamp(rows['window_start'].iloc[0]):%Y-%m-%d %H:%M})"
    out = f"<p class='note'><b>{int(drifted.sum())} of {len(rows)}</b> monitored columns drifted{html.escape(window)}.</p>"
    out += figure_div("drift", figures.drift_columns(data))
    out += note("Red: drifted. Default policy: a column drifts when its p-value, corrected across its group, is below "
                "alpha and its effect size reaches the floor (the tick). A method named in the suite decides by its "
                "score alone: a p-value drifts below the threshold, a distance at or above it.")
    curve = figures.drift_windows(data)
    if curve is not None:
        out += "<h3>Per window</h3>" + figure_div("drift-windows", curve)
    table_rows = rows.assign(column=figures.drift_label(rows).to_numpy())
    table_rows = table_rows.sort_values(["drifted", "column"], ascending=[False, True], kind="stable")
    shown = [c for c in _DRIFT_SHOWN if c in table_rows and (c in ("column", "score", "drifted") or table_rows[c].notna().any())]
    shared = [f"{name}: {html.escape(str(table_rows[c].iloc[0]))}" for c, name in (
        ("n_reference", "reference rows"), ("n_current", "current rows"), ("alpha", "alpha"), ("correction", "correction"),
        ("score_kind", "score"), ("effect_name", "effect"))
        if c in table_rows and table_rows[c].nunique(dropna=False) == 1 and pd.notna(table_rows[c].iloc[0])]
    cells: Cells = {c: fmt for c in shown}
    cells["score"] = lambda v: fmt(v, 3)
    cells["drifted"] = lambda d: "<span class='badge fail'>drifted</span>" if d else "<span class='badge pass'>stable</span>"
    out += (f"<p class='note'>{' · '.join(shared)}</p>" if shared else "")
    out += f"<div class='scroll'>{table(table_rows, cells, {'score', 'threshold', 'effect', 'effect_floor'}, {'effect_floor': 'floor'})}</div>"
    return out


# ---- history -------------------------------------------------------------------------------
def history(data: ReportData) -> str:
    """The metric history chart, or one sentence while the suite has a single committed run."""
    frame = data.history
    if frame is None or frame.empty:
        return ""
    runs = figures.history_runs(frame)
    if runs < 2:
        when = pd.Timestamp(frame["created_at"].iloc[0])
        return note(f"One committed run so far ({when:%Y-%m-%d %H:%M} UTC): the history chart appears from the second run on.")
    return figure_div("history", figures.history_chart(data))


# ---- where the candidate got worse -----------------------------------------------------------
_REGION_COLUMNS = ["model", "dataset", "family", "region", "n", "cand_error", "base_error", "diff", "newly_wrong", "newly_right", "p_value"]


def worse_regions(data: ReportData) -> str:
    """Only the regions where the candidate's error is higher than the baseline's, most significant first.

    ``worst_regions`` ranks every region by ``z`` (positive: the candidate is
    worse) and keeps the top ones even when none is worse; those are left out
    here, and the section says so when nothing is left.
    """
    out = ""
    regions = data.worst_regions
    if regions is not None and not regions.empty:
        worse = regions[(regions["diff"] > 0) & (regions["z"] > 0)].sort_values(["z", "n"], ascending=[False, False])
        if worse.empty:
            out += (f"<p class='note'><b>No region got worse</b>: in each of the {len(regions)} slices and feature ranges "
                    "checked, the candidate's error is no higher than the baseline's.</p>")
        else:
            top = worse.head(15)
            out += note(f"{len(worse)} of {len(regions)} slices and feature ranges checked, where the candidate's error is "
                        "higher than the baseline's; most significant first. diff = candidate error − baseline error "
                        "(positive: worse). p: one-sided test that the candidate is worse there, not corrected for the "
                        "number of regions checked.")
            cells: Cells = {c: fmt for c in _REGION_COLUMNS if c in top}
            cells["p_value"] = lambda p: fmt(p, 3)
            out += table(top, cells, {"n", "cand_error", "base_error", "diff", "newly_wrong", "newly_right", "p_value"})
    wrong = data.newly_wrong
    if wrong is not None and not wrong.empty:
        top = wrong.head(20)
        out += "<h3>Newly wrong examples</h3>" + note(
            f"{len(wrong)} examples the baseline gets right and the candidate gets wrong (most confident first"
            f"{', top 20 shown' if len(wrong) > 20 else ''}).")
        out += table(top, {c: fmt for c in top.columns}, {"confidence"})
    elif regions is not None and not regions.empty:
        out += "<h3>Newly wrong examples</h3>" + note("None: the candidate gets right every example the baseline gets right.")
    return out


# ---- per-slice results ---------------------------------------------------------------------
def slices_note(data: ReportData, omitted: set[tuple[str, str]]) -> str:
    """Why some cells of the slice heat map are empty."""
    if not omitted:
        return ""
    metrics = sorted(m for m in data.across_classes if m in set(data.results["metric"]))
    return note(f"{len(omitted)} slices hold a single true class (e.g. one label): there {', '.join(metrics)} compare "
                "classes that are not there (ROC AUC is undefined, macro-F1 averages in a class with no examples), so "
                "those cells are left empty; accuracy and the per-example metrics still apply.")


# ---- robustness ----------------------------------------------------------------------------
def robustness(data: ReportData) -> str:
    """The robustness table, with each robustness gate's own tolerance and finding beside the table's.

    The table's breaking severity uses the suite's ``robustness.tolerance``; a
    robustness gate uses its own ``max_drop``. Both are shown on the same row so
    "breaks at 3" and "the gate says 4" read as two tolerances, not a contradiction.
    """
    frame = data.robustness
    if frame is None or frame.empty:
        return ""
    frame = frame.copy()
    gates = data.outcomes
    gate_cols: list[str] = []
    if not gates.empty and "variant" in gates:
        rob = gates[gates["variant"].isin(set(frame["perturbation"]))]
        if not rob.empty:
            found = {(r.model, r.dataset, r.variant): r for r in rob.itertuples()}
            frame["gate"] = [getattr(found.get((r.model, r.dataset, r.perturbation)), "gate", None) for r in frame.itertuples()]
            frame["gate finding"] = [getattr(found.get((r.model, r.dataset, r.perturbation)), "reason", None) for r in frame.itertuples()]
            gate_cols = ["gate", "gate finding"]
    columns = [c for c in ("model", "dataset", "perturbation", "clean", "worst", "tolerance", "breaking_severity", "relative_robustness") if c in frame]
    cells: Cells = {c: fmt for c in [*columns, *gate_cols]}
    cells["breaking_severity"] = lambda k: "never" if k is None or (isinstance(k, float) and math.isnan(k)) else f"{k:g}"
    headers = {"tolerance": "table tolerance", "breaking_severity": "breaks at (table tolerance)"}
    text = ("Breaking severity: the first severity whose drop exceeds the table tolerance (the suite's "
            "robustness.tolerance) with its CI excluding no drop; never: no severity breaks it. Relative robustness: "
            "area under value/clean over the severities.")
    if gate_cols:
        text += (" A robustness gate uses its own max drop (in its name), so it can find a different breaking severity"
                 " than the table: both are shown.")
    numeric = {"clean", "worst", "tolerance", "breaking_severity", "relative_robustness"}
    return note(text) + table(frame, cells, numeric, headers)


# ---- provenance ----------------------------------------------------------------------------
def provenance(facts: dict[str, Any]) -> str:
    """A definition list (nested mappings as indented lists), with the raw JSON in a collapsed block."""
    if not facts:
        return ""
    raw = html.escape(json.dumps(facts, indent=2, sort_keys=True, default=str))
    return (f"<dl class='prov'>{_definitions(facts)}</dl>"
            f"<details><summary>Raw provenance (JSON)</summary><pre>{raw}</pre></details>")


def _definitions(facts: dict[str, Any]) -> str:
    out = []
    for key, value in facts.items():
        out.append(f"<dt>{html.escape(str(key).replace('_', ' '))}</dt><dd>{_value(value)}</dd>")
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return f"<dl class='prov'>{_definitions(value)}</dl>" if value else "—"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return ", ".join(f"<code>{html.escape(str(v))}</code>" for v in value) or "—"
        return "<ul>" + "".join(f"<li>{_value(v)}</li>" for v in value) + "</ul>"
    if value is None or value == "":
        return "—"
    return f"<code>{html.escape(str(value))}</code>"
