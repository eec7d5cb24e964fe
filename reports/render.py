"""Render a run's report as ONE self-contained HTML file (plotly.js carried once, compressed)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pandas as pd

from reports import figures, sections
from reports.card import card_html
from reports.data import ReportData
from reports.plotly_bundle import figure_div, library_scripts
from reports.sections import fmt as _fmt
from reports.sections import table as _table

_STATUS_ORDER = {"fail": 0, "inconclusive": 1, "pass": 2, "reported": 3}
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f6f7f9;color:#111827}
main{max-width:1280px;margin:0 auto;padding:0 24px 48px}
header.verdict{padding:22px 32px;color:#fff;display:flex;align-items:center;gap:28px}
header.pass{background:#15803d}header.fail{background:#b91c1c}header.inconclusive{background:#b45309}header.none{background:#4b5563}
header .word{font-size:44px;font-weight:800;letter-spacing:.06em}
header .meta{font-size:15px;line-height:1.5}header .meta b{font-size:19px}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;margin:20px 0;padding:16px 20px}
h2{font-size:18px;margin:0 0 10px}p.note{color:#4b5563;font-size:13px;margin:4px 0 10px}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;font-size:12px;text-transform:uppercase}
.badge.pass{background:#dcfce7;color:#166534}.badge.fail{background:#fee2e2;color:#991b1b}
.badge.inconclusive{background:#fef3c7;color:#92400e}.badge.reported{background:#e5e7eb;color:#374151}
nav{font-size:13px;margin:12px 0}nav a{margin-right:14px;color:#1d4ed8;text-decoration:none}
code{font-size:12px}
h3{font-size:15px;margin:14px 0 6px}.scroll{max-height:420px;overflow:auto}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:0;font-size:13px}
dl.prov dt{font-weight:600;color:#374151}dl.prov dd{margin:0;overflow-wrap:anywhere}dl.prov dl.prov{font-size:12px}
details{margin-top:10px;font-size:13px}details pre{max-height:360px;overflow:auto;background:#f9fafb;padding:8px}
"""


def render_report(data: ReportData) -> str:
    """The whole report as one HTML string: verdict first, then the evidence.

    Sections appear only when their data is present: gates, metrics with CIs
    against the baseline, a per-slice heat map, robustness curves, upstream
    modules, drift, metric history, where the candidate got worse (and the
    examples it newly gets wrong), proxy-vs-downstream alignment and provenance.
    plotly.js is carried once, compressed (:mod:`reports.plotly_bundle`), so the
    file opens offline.

    Args:
        data: Everything the report shows, already computed.

    Returns:
        A complete HTML document.
    """
    omitted = figures.single_class_slices(data)
    parts = [
        ("gates", "Gates", _gates_table(data.outcomes)),
        ("metrics", "Metrics vs baseline", figure_div("metrics", figures.metrics_vs_baseline(data)) + _metrics_table(data)),
        ("slices", "Per-slice results", _nonempty(figure_div("slices", figures.slice_heatmap(data)), sections.slices_note(data, omitted))),
        ("robustness", f"Robustness ({html.escape(data.primary() or '')})", figure_div("robustness", figures.robustness_curves(data)) + sections.robustness(data)),
        ("upstream", "Upstream modules", figure_div("upstream", figures.upstream_deltas(data)) + _frame(data.upstream, "Delta: the primary metric with the module at its current version minus with only that module rolled back, same rows (paired bootstrap CI).")),
        ("drift", "Drift", sections.drift(data)),
        ("history", "Metric history", sections.history(data)),
        ("errors", "Where the candidate got worse", sections.worse_regions(data)),
        ("alignment", "Proxy vs downstream across versions", _frame(data.alignment, "Does the training/validation proxy move with the downstream metric? Flagged: the proxy improved while the downstream metric got worse.")),
        ("cards", "Model cards", _cards(data)),
        ("provenance", "Provenance", sections.provenance(data.provenance)),
    ]
    present = [(key, title, body) for key, title, body in parts if body]
    nav = "".join(f'<a href="#{key}">{title}</a>' for key, title, _ in present)
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{content}</section>' for key, title, content in present)
    library = library_scripts() if 'class="chart"' in body else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(data.title)} · {data.verdict.upper()}</title><style>{_CSS}</style></head><body>"
        f"{_verdict_header(data)}<main><nav>{nav}</nav>{body}</main>{library}</body></html>"
    )


def _cards(data: ReportData) -> str:
    """One collapsible card per model, the candidates first (``vigil card`` writes the same card as Markdown)."""
    ordered = sorted(data.cards, key=lambda c: c.model != data.model_with_role("candidate"))
    return "".join(f"<details{' open' if i == 0 else ''}><summary><b>{html.escape(c.model)}</b> · "
                   f"{len(c.missing())} checklist item(s) missing</summary>{card_html(c)}</details>" for i, c in enumerate(ordered))


def _nonempty(chart: str, text: str) -> str:
    return chart + text if chart else ""


def _verdict_header(data: ReportData) -> str:
    counts = data.outcomes["status"].value_counts() if not data.outcomes.empty else pd.Series(dtype=int)
    tally = ", ".join(f"{int(counts[s])} {s}" for s in _STATUS_ORDER if s in counts) or "no gates"
    when = data.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<header class='verdict {data.verdict}'><div class='word' id='verdict'>{data.verdict.upper()}</div>"
        f"<div class='meta'><b>{html.escape(data.title)}</b><br>Gates: {tally}<br>Generated {when}</div></header>"
    )


def _gates_table(outcomes: pd.DataFrame) -> str:
    if outcomes.empty:
        return "<p class='note'>This suite has no gates.</p>"
    frame = outcomes.assign(_order=outcomes["status"].map(_STATUS_ORDER)).sort_values(["_order", "gate"], kind="stable")
    frame = frame.assign(ci=[f"[{_fmt(lo)}, {_fmt(hi)}]" for lo, hi in zip(frame["ci_low"], frame["ci_high"], strict=True)])
    cells: dict[str, Callable[[Any], str]] = {
        "status": lambda s: f"<span class='badge {s}'>{html.escape(str(s))}</span>",
        "gate": _fmt, "model": _fmt, "dataset": _fmt, "slice": _fmt, "value": _fmt, "threshold": _fmt,
        "ci": lambda s: s, "diff": _fmt, "p_value": lambda p: _fmt(p, 3), "adjusted_p": lambda p: _fmt(p, 3),
        "n": _fmt, "reason": _fmt,
    }
    note = ("<p class='note'>Value: the metric for bounds, the drop for comparisons (positive = worse), the breaking "
            "severity for robustness, the drifted share for drift. CI: of the value, or of candidate − reference. "
            "Adjusted p: Holm across a gate's slices.</p>")
    return note + _table(frame, cells, {"value", "threshold", "diff", "p_value", "adjusted_p", "n"})


def _metrics_table(data: ReportData) -> str:
    rows = figures._clean_all(data.results)
    if rows.empty:
        return ""
    text = rows.assign(cell=[f"{v:.4f} [{lo:.4f}, {hi:.4f}]" for v, lo, hi in
                             zip(rows["value"], rows["ci_low"], rows["ci_high"], strict=True)])
    pivot = text.pivot_table(index=["dataset", "metric"], columns="model", values="cell", aggfunc="first").reset_index()
    cells: dict[str, Callable[[Any], str]] = {c: _fmt for c in pivot.columns}
    note = "Whole set, clean inputs: value [CI]."
    if "ci_method" in rows.columns and rows["ci_method"].notna().any():  # reports of results read without it say nothing
        methods = rows.groupby(["dataset", "metric"], sort=False)["ci_method"].agg(_methods)
        pivot["CI method"] = [methods.get((d, m), "") for d, m in zip(pivot["dataset"], pivot["metric"], strict=True)]
        cells["CI method"] = _fmt
        note += (" CI method: bootstrap = exact row bootstrap; on large slices bootstrap-cells (resampled cell counts), "
                 "normal-sums (normal approximation of the row sums) or delong (ROC AUC); see docs/statistics.md.")
    return f"<p class='note'>{html.escape(note)}</p>" + _table(pivot, cells, set())


def _methods(values: pd.Series) -> str:
    """The interval methods of one metric across models, e.g. ``bootstrap`` or ``bootstrap, delong``."""
    return ", ".join(sorted({str(v) for v in values.dropna()}))


def _frame(frame: pd.DataFrame | None, note: str) -> str:
    if frame is None or frame.empty:
        return ""
    numeric = {c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])}
    return f"<p class='note'>{html.escape(note)}</p>" + _table(frame, {c: _fmt for c in frame.columns}, numeric)
