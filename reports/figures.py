"""Plotly figures for the report, each built from plain frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reports.data import ReportData

PALETTE = ["#2563eb", "#9ca3af", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6"]


def _clean_all(results: pd.DataFrame) -> pd.DataFrame:
    return results[(results["variant"] == "clean") & (results["slice"] == "all")]


def metrics_vs_baseline(data: ReportData) -> go.Figure | None:
    """One panel per metric: each model's value on the whole set with its CI as error bars."""
    rows = _clean_all(data.results)
    if rows.empty:
        return None
    metrics = list(dict.fromkeys(rows["metric"]))
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=[
        f"{m} ({'↑' if data.higher_is_better.get(m, True) else '↓'} better)" for m in metrics
    ])
    models = list(dict.fromkeys(rows["model"]))
    for col, metric in enumerate(metrics, start=1):
        for i, model in enumerate(models):
            r = rows[(rows["metric"] == metric) & (rows["model"] == model)]
            if r.empty:
                continue
            value = r["value"].to_numpy(float)
            fig.add_bar(
                x=r["dataset"], y=value, name=model, legendgroup=model, showlegend=col == 1,
                marker_color=PALETTE[i % len(PALETTE)],
                error_y=dict(type="data", symmetric=False, array=r["ci_high"].to_numpy(float) - value,
                             arrayminus=value - r["ci_low"].to_numpy(float)),
                hovertemplate=f"{model}<br>{metric}=%{{y:.4f}}<extra></extra>", row=1, col=col,
            )
    fig.update_layout(barmode="group", height=360, margin=dict(t=50, b=30, l=40, r=20), template="plotly_white")
    return fig


def single_class_slices(data: ReportData) -> set[tuple[str, str]]:
    """(dataset, slice) pairs holding one true class: where a class-comparing metric is undefined (NaN)."""
    clean = data.results[(data.results["variant"] == "clean") & (data.results["slice"] != "all")]
    undefined = clean[clean["metric"].isin(data.across_classes) & clean["value"].isna()]
    return set(zip(undefined["dataset"], undefined["slice"], strict=True))


def slice_heatmap(data: ReportData) -> go.Figure | None:
    """Candidate minus baseline per slice and metric, oriented so positive is better."""
    candidate, baseline = data.model_with_role("candidate"), data.model_with_role("baseline")
    clean = data.results[data.results["variant"] == "clean"]
    if candidate is None or clean["slice"].nunique() < 2:
        return None
    key = ["dataset", "slice", "metric"]
    cand = clean[clean["model"] == candidate].set_index(key)
    if baseline is not None:
        base = clean[clean["model"] == baseline].set_index(key)
        joined = cand[["value", "n"]].join(base[["value"]], rsuffix="_base", how="inner").reset_index()
        sign = joined["metric"].map(lambda m: 1.0 if data.higher_is_better.get(m, True) else -1.0)
        joined["z"] = (joined["value"] - joined["value_base"]) * sign
        title = f"{candidate} − {baseline} (+ is better)"
    else:
        joined = cand[["value", "n"]].reset_index()
        joined["z"] = joined["value"]
        title = candidate
    one_class = single_class_slices(data)
    blank = [(d, s) in one_class and m in data.across_classes for d, s, m in zip(joined["dataset"], joined["slice"], joined["metric"], strict=True)]
    joined.loc[blank, ["z", "value"]] = np.nan  # a class-comparing metric on one class: left empty, the section says why
    joined["row"] = joined["dataset"] + " · " + joined["slice"]
    z = joined.pivot(index="row", columns="metric", values="z")
    text = joined.pivot(index="row", columns="metric", values="value").map(lambda v: "" if v != v else f"{v:.3f}")
    n = joined.drop_duplicates("row").set_index("row")["n"].reindex(z.index)
    labels = [f"{r} (n={int(c)})" for r, c in n.items()]
    limit = float(np.nanmax(np.abs(z.to_numpy()))) or 1.0
    fig = go.Figure(go.Heatmap(
        z=z.to_numpy(), x=list(z.columns), y=labels, text=text.to_numpy(), texttemplate="%{text}",
        colorscale="RdBu", zmid=0 if baseline else None, zmin=-limit if baseline else None,
        zmax=limit if baseline else None, colorbar=dict(title="Δ" if baseline else "value"),
    ))
    fig.update_layout(title=title, height=max(300, 28 * len(labels) + 120), template="plotly_white",
                      margin=dict(t=50, b=30, l=40, r=20), yaxis=dict(autorange="reversed"))
    return fig


def robustness_curves(data: ReportData) -> go.Figure | None:
    """The primary metric against severity (0 = clean) for each perturbation and model."""
    metric = data.primary()
    rows = data.results[(data.results["slice"] == "all") & (data.results["metric"] == metric)]
    perturbed = rows[rows["variant"].str.fullmatch(r"[^:@]+:\d+")]  # "<perturbation>:<severity>" only
    if perturbed.empty:
        return None
    fig = go.Figure()
    clean = rows[rows["variant"] == "clean"]
    dashes = ["solid", "dash", "dot", "dashdot"]
    for (dataset, model), group in perturbed.groupby(["dataset", "model"], sort=True):
        split = group["variant"].str.split(":", n=1)
        group = group.assign(perturbation=split.str[0], severity=split.str[1].astype(int))
        start = clean[(clean["dataset"] == dataset) & (clean["model"] == model)]
        models = list(dict.fromkeys(rows["model"]))
        for j, (pert, curve) in enumerate(group.groupby("perturbation", sort=True)):
            curve = curve.sort_values("severity")
            x, y = curve["severity"].tolist(), curve["value"].tolist()
            if not start.empty:
                x, y = [0, *x], [float(start["value"].iloc[0]), *y]
            fig.add_scatter(x=x, y=y, mode="lines+markers", name=f"{model} · {pert}",
                            line=dict(color=PALETTE[j % len(PALETTE)], dash=dashes[models.index(model) % len(dashes)]))
    fig.update_layout(xaxis_title="severity (0 = clean)", yaxis_title=metric, height=380,
                      template="plotly_white", margin=dict(t=30, b=40, l=50, r=20))
    return fig


def history_chart(data: ReportData) -> go.Figure | None:
    """Each metric over time per model, with its CI as a band."""
    history = data.history
    if history is None or history.empty or history_runs(history) < 2:
        return None  # one run is a point, not a history: the report says so in words
    metrics = list(dict.fromkeys(history["metric"]))
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=metrics, vertical_spacing=0.08)
    models = list(dict.fromkeys(history["model"]))
    for row, metric in enumerate(metrics, start=1):
        for i, model in enumerate(models):
            h = history[(history["metric"] == metric) & (history["model"] == model)].sort_values("created_at")
            if h.empty:
                continue
            color = PALETTE[i % len(PALETTE)]
            fig.add_scatter(x=h["created_at"], y=h["ci_high"], mode="lines", line=dict(width=0), showlegend=False,
                            hoverinfo="skip", row=row, col=1)
            fig.add_scatter(x=h["created_at"], y=h["ci_low"], mode="lines", line=dict(width=0), fill="tonexty",
                            fillcolor=_tint(color), showlegend=False, hoverinfo="skip", row=row, col=1)
            fig.add_scatter(x=h["created_at"], y=h["value"], mode="lines+markers", name=model, legendgroup=model,
                            showlegend=row == 1, line=dict(color=color), row=row, col=1)
    fig.update_xaxes(tickformat="%Y-%m-%d %H:%M", hoverformat="%Y-%m-%d %H:%M UTC")  # never sub-second ticks
    fig.update_layout(height=230 * len(metrics) + 60, template="plotly_white", margin=dict(t=40, b=30, l=50, r=20))
    return fig


def history_runs(history: pd.DataFrame) -> int:
    """How many distinct runs (start times) the history holds."""
    return int(history["created_at"].nunique()) if "created_at" in history else 0


def _tint(hex_color: str) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.18)"


def upstream_deltas(data: ReportData) -> go.Figure | None:
    """Per upstream module and model: the metric change it caused (current − rolled back) with its CI."""
    table = data.upstream
    if table is None or table.empty:
        return None
    fig = go.Figure()
    for i, (model, rows) in enumerate(table.groupby("model", sort=True)):
        delta = rows["delta"].to_numpy(float)
        labels = rows["module"] + " · " + rows["dataset"] + " (" + rows["previous_version"].astype(str) + " → " + rows["version"].astype(str) + ")"
        fig.add_scatter(
            x=delta, y=labels, mode="markers", name=model, marker=dict(size=10, color=PALETTE[i % len(PALETTE)]),
            error_x=dict(type="data", symmetric=False, array=rows["ci_high"].to_numpy(float) - delta, arrayminus=delta - rows["ci_low"].to_numpy(float)),
            hovertemplate=f"{model}<br>%{{y}}<br>Δ=%{{x:.4f}}<extra></extra>",
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#6b7280")
    metric = str(table["metric"].iloc[0])
    fig.update_layout(title=f"Change in {metric} attributed to each module (95% CI)", height=max(260, 40 * len(table) + 140),
                      template="plotly_white", margin=dict(t=50, b=30, l=40, r=20))
    return fig


def drift_label(rows: pd.DataFrame) -> pd.Series:
    """``column`` alone for data columns, ``kind · model · column`` for model outputs and joint tests."""
    label = rows["column"].astype(str)
    if "kind" in rows:
        kind = rows["kind"].fillna("data").astype(str)
        model = rows["model"].fillna("").astype(str) if "model" in rows else pd.Series("", index=rows.index)
        prefix = kind + " · " + model.where(model == "", model + " · ")
        label = label.where(kind == "data", prefix + label)
    if "dataset" in rows and rows["dataset"].nunique() > 1:
        label = rows["dataset"].astype(str) + " · " + label
    return label


def latest_window(drift: pd.DataFrame) -> pd.DataFrame:
    """The drift rows of the last window (all rows when the table has no windows)."""
    if "window_start" not in drift or drift["window_start"].isna().all():
        return drift
    return drift[drift["window_start"] == drift["window_start"].max()]


def drift_columns(data: ReportData) -> go.Figure | None:
    """Per column: the effect against its floor (default policy) or the score against its threshold, drifted in red.

    Under the default policy a column drifts when its corrected p-value is below
    alpha *and* its effect reaches the floor, so the chart shows the effect with
    the floor as a tick; a suite-named method has only a score and a threshold
    (a p-value drifts below it, a distance at or above it).
    """
    drift = data.drift
    if drift is None or drift.empty:
        return None
    rows = latest_window(drift).reset_index(drop=True)
    rows = rows.assign(label=drift_label(rows))
    has_effect = "effect" in rows and "effect_floor" in rows
    with_floor = rows[rows["effect"].notna() & rows["effect_floor"].notna()] if has_effect else rows.iloc[0:0]
    by_score = rows.drop(index=with_floor.index)
    panels = [(f, t) for f, t in ((with_floor, "effect vs floor"), (by_score, "score vs threshold")) if not f.empty]
    fig = make_subplots(rows=len(panels), cols=1, subplot_titles=[t for _, t in panels], vertical_spacing=0.25)
    for row, (frame, title) in enumerate(panels, start=1):
        drifted = frame["drifted"].astype(bool)
        colors = np.where(drifted, "#dc2626", "#9ca3af")
        if title.startswith("effect"):
            value, bound, bound_name = frame["effect"], frame["effect_floor"], "floor"
            names = frame["effect_name"].fillna("effect").astype(str) if "effect_name" in frame else "effect"
            hover = [f"{lab}<br>{nm}={v:.4g} (floor {b:.4g})<br>p adj={p:.3g}<extra></extra>" for lab, nm, v, b, p in
                     zip(frame["label"], names, value, bound, frame.get("p_adjusted", frame["score"]), strict=True)]
        else:
            value, bound, bound_name = frame["score"], frame["threshold"], "threshold"
            kinds = frame["score_kind"].astype(str) if "score_kind" in frame else pd.Series("score", index=frame.index)
            hover = [f"{lab}<br>{k}={v:.4g} (threshold {b:.4g}; {'drift below' if k == 'p_value' else 'drift at or above'})<extra></extra>"
                     for lab, k, v, b in zip(frame["label"], kinds, value, bound, strict=True)]
        fig.add_bar(x=frame["label"], y=value, marker_color=colors, name=title.split()[0], showlegend=False,
                    hovertemplate=hover, row=row, col=1)
        fig.add_scatter(x=frame["label"], y=bound, mode="markers", name=bound_name, showlegend=row == 1 or len(panels) == 1,
                        marker=dict(symbol="line-ew-open", size=18, color="#111827", line=dict(width=2)), row=row, col=1)
    fig.update_layout(height=300 * len(panels) + 60, template="plotly_white", margin=dict(t=50, b=60, l=50, r=20),
                      bargap=0.25, legend=dict(orientation="h", y=1.08, x=1, xanchor="right"))
    return fig


def drift_windows(data: ReportData) -> go.Figure | None:
    """Share of drifted columns per window (one line per dataset and kind), where the table has two windows or more."""
    drift = data.drift
    if drift is None or "window_start" not in drift or drift["window_start"].dropna().nunique() < 2:
        return None
    rows = drift.dropna(subset=["window_start"]).assign(drifted=lambda f: f["drifted"].astype(bool))
    keys = [k for k in ("dataset", "kind") if k in rows]
    fig = go.Figure()
    for i, (key, group) in enumerate(rows.groupby(keys, sort=True, dropna=False)):
        share = group.groupby("window_start")["drifted"].mean().sort_index()
        name = " · ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        fig.add_scatter(x=pd.to_datetime(share.index), y=share.to_numpy(), mode="lines+markers", name=name,
                        line=dict(color=PALETTE[i % len(PALETTE)]), hovertemplate="%{x}<br>%{y:.0%} drifted<extra></extra>")
    fig.update_layout(yaxis=dict(title="drifted share", tickformat=".0%", rangemode="tozero"), xaxis_title="window start",
                      height=320, template="plotly_white", margin=dict(t=30, b=40, l=60, r=20))
    return fig
