"""Human summaries of a run: the headline table and the verdict markdown."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

import pandas as pd

from pipeline.evaluate.decide import Decision
from pipeline.evaluate.plan import RunPlan
from storage.records import ArtifactRecord


def headline_table(results: pd.DataFrame) -> pd.DataFrame:
    """Clean, whole-set metrics per model and dataset, with the candidate's change vs the baseline."""
    head = results[(results["variant"] == "clean") & (results["slice"] == "all")].copy()
    base = head[head["role"] == "baseline"].drop_duplicates(["dataset", "metric"]).set_index(["dataset", "metric"])["value"]
    head["vs_baseline"] = [
        (row.value - base.get((row.dataset, row.metric), float("nan"))) if row.role == "candidate" else float("nan")
        for row in head.itertuples()
    ]
    cols = ["model", "role", "dataset", "metric", "value", "ci_low", "ci_high", "n", "vs_baseline"]
    return head[cols].sort_values(["dataset", "metric", "role", "model"]).reset_index(drop=True)


def _fmt(x: float) -> str:
    return "—" if x != x else f"{x:.4f}"


def headline_pivot(results: pd.DataFrame) -> pd.DataFrame:
    """Metrics as rows, models as columns ("value [low, high]"), and the candidate's change vs the baseline."""
    head = headline_table(results)
    head["cell"] = [f"{_fmt(r.value)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]" for r in head.itertuples()]
    head["label"] = head["model"] + " (" + head["role"] + ")"
    pivot = head.pivot_table(index=["dataset", "metric"], columns="label", values="cell", aggfunc="first")
    order = [c for c in dict.fromkeys(head.sort_values("role", key=lambda s: s != "candidate")["label"])]
    pivot = pivot[order]
    change = head[head["role"] == "candidate"].groupby(["dataset", "metric"])["vs_baseline"].first().map(_fmt)
    if change.ne("—").any():
        pivot["Δ vs baseline"] = change
    out = pivot.reset_index()
    out.columns.name = None
    return out if out["dataset"].nunique() > 1 else out.drop(columns="dataset")


def robustness_lines(robustness: pd.DataFrame | None) -> list[str]:
    """Markdown lines summarising robustness per model and perturbation (four columns: the Prefect UI clips wide tables)."""
    if robustness is None or robustness.empty:
        return []
    tolerance = robustness["tolerance"].iloc[0] if "tolerance" in robustness else None
    lines = ["## Robustness", ""]
    if tolerance is not None:
        lines += [f"Breaking severity at the suite's tolerance ({tolerance:g}); a robustness gate uses its own max drop.", ""]
    lines += ["| model · perturbation | clean → worst | breaks at | relative |", "|---|---|---|---|"]
    for r in robustness.itertuples():
        brk = "never" if r.breaking_severity != r.breaking_severity else f"{int(r.breaking_severity)}"
        rel = "—" if r.relative_robustness is None or r.relative_robustness != r.relative_robustness else f"{r.relative_robustness:.3f}"
        lines.append(f"| {r.model} · {r.perturbation} | {_fmt(r.clean)} → {_fmt(r.worst)} | {brk} | {rel} |")
    return [*lines, ""]


def upstream_lines(upstream: pd.DataFrame | None) -> list[str]:
    """Markdown lines: the change in the primary metric attributed to each upstream module."""
    if upstream is None or upstream.empty:
        return []
    lines = ["## Upstream modules (current − rolled back)", "", "| module | kind | version | model | dataset | metric | delta | 95% CI | p |", "|---|---|---|---|---|---|---|---|---|"]
    for r in upstream.itertuples():
        lines.append(f"| {r.module} | {r.kind} | {r.previous_version} → {r.version} | {r.model} | {r.dataset} | {r.metric} | {_fmt(r.delta)} | [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] | {_fmt(r.p_value)} |")
    return [*lines, ""]


def verdict_markdown(plan: RunPlan, decision: Decision, artifacts: list[ArtifactRecord], table: pd.DataFrame,
                     robustness: pd.DataFrame | None = None, alerts: list[str] | None = None, upstream: pd.DataFrame | None = None,
                     links: Mapping[str, str] | None = None) -> str:
    """Markdown for the Prefect dashboard: verdict first, then gates, metrics and links.

    Written for the Prefect UI: status as words (PASS, FAIL; an emoji shows as an
    empty box where the font lacks it), tables of at most five short columns
    (wider ones are clipped on the right), and links only over HTTP (``links``
    maps an artifact's ``file://`` URI to its address on the artifact server; a
    browser does not open ``file://`` links from an http page, so without one
    the path is shown as text).
    """
    links = links or {}
    lines = [f"# Vigil verdict: **{decision.verdict.upper()}** — {plan.suite_name}", ""]
    report = next((a for a in artifacts if a.kind == "report"), None)
    if report is not None and report.uri in links:
        lines += [f"[Open the full report]({links[report.uri]})", ""]
    elif report is not None:
        lines += [f"Report: `{_path(report.uri)}` (run `vigil serve` to open reports from here)", ""]
    lines += list(alerts or [])
    if decision.failed_gates():
        lines += [f"**Failed:** {', '.join(decision.failed_gates())}", ""]
    lines += [f"Run `{plan.run_id}` · trigger `{plan.trigger}` · suite hash `{plan.suite_hash[:12]}`", ""]
    if decision.outcomes:
        lines += ["## Gates", "", "| status | gate | model · slice | value (bound) |", "|---|---|---|---|"]
        for o in decision.outcomes:
            lines.append(f"| **{o.status.upper()}** | {o.gate} | {o.model} · {o.slice} | {_fmt(o.value)} ({_fmt(o.threshold)}) |")
        lines += ["", *[f"- {o.gate} ({o.model} · {o.slice}): {o.reason}" for o in decision.outcomes if o.reason], ""]
    lines += ["## Headline metrics (clean data, all rows)", "", *_headline_lines(table)]
    lines += ["", *robustness_lines(robustness), *upstream_lines(upstream)]
    if artifacts:
        lines += ["", "## Links", ""]
        lines += [f"- [{a.kind}]({links[a.uri]}) — {a.description}" if a.uri in links else f"- {a.kind}: `{_path(a.uri)}`" for a in artifacts]
    return "\n".join(lines)


def _headline_lines(table: pd.DataFrame) -> list[str]:
    """Metrics as rows, models as columns (value [95% CI]), and the candidate's change: a narrow table."""
    models = list(dict.fromkeys(table.sort_values("role", key=lambda s: s != "candidate")["model"]))
    several = table["dataset"].nunique() > 1
    change = table["vs_baseline"].notna().any()
    head = ["metric", *models, *(["Δ vs baseline"] if change else [])]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (dataset, metric), rows in table.groupby(["dataset", "metric"], sort=True):
        cells = {r.model: f"{_fmt(r.value)} [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]" for r in rows.itertuples()}
        delta = rows["vs_baseline"].dropna()
        row = [f"{dataset} · {metric}" if several else str(metric), *(cells.get(m, "—") for m in models)]
        lines.append("| " + " | ".join([*row, *([_fmt(delta.iloc[0]) if len(delta) else "—"] if change else [])]) + " |")
    return lines


def _path(uri: str) -> str:
    return unquote(urlsplit(uri).path) if uri.startswith("file://") else uri
