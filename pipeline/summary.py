"""Human summaries of a run: the headline table and the verdict markdown."""

from __future__ import annotations

import pandas as pd

from pipeline.decide import Decision
from pipeline.plan import RunPlan
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


def verdict_markdown(plan: RunPlan, decision: Decision, artifacts: list[ArtifactRecord], table: pd.DataFrame) -> str:
    """Markdown for the Prefect dashboard: verdict first, then gates, metrics and links."""
    icon = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}.get(decision.verdict, "•")
    lines = [f"# {icon} Vigil verdict: **{decision.verdict.upper()}** — {plan.suite_name}", ""]
    if decision.failed_gates():
        lines += [f"**Failed:** {', '.join(decision.failed_gates())}", ""]
    lines += [f"Run `{plan.run_id}` · trigger `{plan.trigger}` · suite hash `{plan.suite_hash[:12]}`", ""]
    if decision.outcomes:
        lines += ["## Gates", "", "| gate | model | slice | status | value | threshold | evidence |", "|---|---|---|---|---|---|---|"]
        for o in decision.outcomes:
            lines.append(f"| {o.gate} | {o.model} | {o.slice} | **{o.status}** | {_fmt(o.value)} | {_fmt(o.threshold)} | {o.reason} |")
        lines.append("")
    lines += ["## Headline metrics (clean data, all rows)", "", "| model | role | dataset | metric | value | 95% CI | n | vs baseline |", "|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| {r.model} | {r.role} | {r.dataset} | {r.metric} | {_fmt(r.value)} | [{_fmt(r.ci_low)}, {_fmt(r.ci_high)}] | {r.n} | {_fmt(r.vs_baseline)} |")
    if artifacts:
        lines += ["", "## Links", ""] + [f"- [{a.kind}]({a.uri}) — {a.description}" for a in artifacts]
    return "\n".join(lines)
