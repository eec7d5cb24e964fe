"""Metric gates from the suite: absolute bounds and drops against a reference.

Semantics, in one place:

* **Absolute bound** (``min``/``max``) on the whole set. With
  ``bound_policy="ci"`` the gate passes when the CI lies within the bound,
  fails when it lies entirely beyond it, and is ``inconclusive`` when the CI
  straddles it. With ``"point"`` the point value decides; the CI is reported.
* **Drop** (``max_drop`` vs ``baseline`` or ``last_pass``). Without
  ``significance`` the point drop decides. With it, the gate fails only when
  the drop exceeds ``max_drop`` AND the candidate is significantly worse than
  the reference (one-sided test of "no difference"): exact McNemar on paired
  correctness for accuracy, the paired bootstrap otherwise, and for
  ``last_pass`` (whose predictions are not at hand) a normal approximation
  from the two stored CIs. An exceedance that is not significant passes.
* **Per slice**: the gate applies to every slice other than ``all`` (gate the
  whole set with a second gate without ``per_slice``). Slices with ``n < min_slice_n`` are ``reported`` and not gated.
  Over the gated slices, p-values are Holm-adjusted, so many slices do not
  manufacture failures; a slice fails only when its adjusted p is below the
  level (``significance``, or ``(1 - confidence) / 2`` for bounds, the one-sided
  level matching the two-sided CI). Bounds then pass when the slice's CI lies
  within the bound and are inconclusive otherwise (``ci`` policy).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd

from evaluators.gates.inputs import GateInputs
from evaluators.gates.outcome import NAN, GateOutcome
from evaluators.normal import norm_cdf, norm_ppf, norm_sf
from evaluators.statistics import holm
from suite.spec import GateSpec


def evaluate_metric_gate(gate: GateSpec, inputs: GateInputs) -> list[GateOutcome]:
    """Check one suite gate on every candidate (or its named model) and dataset.

    Args:
        gate: The suite's gate.
        inputs: This run's evidence.

    Returns:
        One outcome per (model, dataset, slice, bound); ``inconclusive`` outcomes
        name what evidence was missing.
    """
    models = [gate.model] if gate.model else inputs.models("candidate")
    results = inputs.results
    outcomes: list[GateOutcome] = []
    for model in models:
        rows = results[
            (results["model"] == model) & (results["variant"] == gate.variant) & (results["metric"] == gate.metric)
        ]
        rows = rows[rows["slice"] != "all"] if gate.per_slice else rows[rows["slice"] == "all"]
        if rows.empty:
            outcomes.append(_missing(gate, model, f"no {gate.metric} results for model {model} variant {gate.variant}"))
            continue
        for dataset, ds_rows in rows.groupby("dataset", sort=True):
            ds_rows = ds_rows.drop_duplicates("slice").set_index("slice")
            for bound in ("min", "max"):
                if getattr(gate, bound) is not None:
                    outcomes += _bound(gate, bound, model, str(dataset), ds_rows, inputs)
            if gate.max_drop is not None:
                outcomes += _drop(gate, model, str(dataset), ds_rows, inputs)
    return outcomes


def _describe(gate: GateSpec, what: str) -> str:
    where = " per slice" if gate.per_slice else ""
    variant = f" [{gate.variant}]" if gate.variant != "clean" else ""
    return f"{what}{variant}{where}"


def _missing(gate: GateSpec, model: str, reason: str) -> GateOutcome:
    return GateOutcome(
        gate=_describe(gate, f"{gate.metric} gate"), model=model, slice="all", status="inconclusive",
        value=NAN, threshold=NAN, reason=reason, variant=gate.variant,
    )


def _is_small(gate: GateSpec, slice_: str, n: int) -> bool:
    return gate.per_slice and slice_ != "all" and n < gate.min_slice_n


def _bound(
    gate: GateSpec, bound: str, model: str, dataset: str, rows: pd.DataFrame, inputs: GateInputs
) -> list[GateOutcome]:
    threshold = float(getattr(gate, bound))
    below = bound == "min"
    label = _describe(gate, f"{gate.metric} {'≥' if below else '≤'} {threshold:g}")
    z = norm_ppf(1 - (1 - inputs.confidence) / 2)
    alpha = gate.significance or (1 - inputs.confidence) / 2
    drafts: list[GateOutcome] = []
    for slice_, row in rows.iterrows():
        value, low, high, n = float(row["value"]), float(row["ci_low"]), float(row["ci_high"]), int(row["n"])
        beyond = value < threshold if below else value > threshold
        within_ci = (low >= threshold) if below else (high <= threshold)
        beyond_ci = (high < threshold) if below else (low > threshold)
        has_ci = math.isfinite(low) and math.isfinite(high)
        base = GateOutcome(
            gate=label, model=model, slice=str(slice_), status="pass", value=value, threshold=threshold,
            ci_low=low, ci_high=high, n=n, dataset=dataset, variant=gate.variant,
        )
        if _is_small(gate, str(slice_), n):
            drafts.append(replace(base, status="reported", reason=f"n={n} < min_slice_n={gate.min_slice_n}: not gated"))
            continue
        se = (high - low) / (2 * z) if has_ci else NAN
        p = _p_beyond(value, threshold, se, below)
        base = replace(base, p_value=p)
        if inputs.bound_policy == "point" or not has_ci:
            why = "point value" + ("" if has_ci else " (no CI)")
            status = "fail" if beyond else "pass"
            drafts.append(replace(base, status=status, reason=f"{why} {value:.4g} {'beyond' if beyond else 'within'} bound"))
        elif within_ci:
            drafts.append(replace(base, reason=f"CI [{low:.4g}, {high:.4g}] within bound"))
        elif not gate.per_slice and beyond_ci:
            drafts.append(replace(base, status="fail", reason=f"CI [{low:.4g}, {high:.4g}] entirely beyond bound"))
        elif not gate.per_slice:
            drafts.append(replace(base, status="inconclusive", reason=f"CI [{low:.4g}, {high:.4g}] straddles bound"))
        else:
            drafts.append(replace(base, status="inconclusive", reason="per-slice: decided after Holm"))
    return _holm_bounds(drafts, alpha, below) if gate.per_slice else drafts


def _p_beyond(value: float, threshold: float, se: float, below: bool) -> float:
    """One-sided p for "the true value lies beyond the bound", normal approximation from the CI."""
    gap = (value - threshold) if below else (threshold - value)
    if not math.isfinite(se) or se <= 0:
        return 0.0 if gap < 0 else 1.0
    return float(norm_cdf(gap / se))


def _holm_bounds(drafts: list[GateOutcome], alpha: float, below: bool) -> list[GateOutcome]:
    gated = [i for i, o in enumerate(drafts) if o.status != "reported"]
    adjusted = holm([drafts[i].p_value for i in gated])
    out = list(drafts)
    for i, adj in zip(gated, adjusted, strict=True):
        o = replace(drafts[i], adjusted_p=float(adj))
        if o.status == "inconclusive":
            beyond = o.value < o.threshold if below else o.value > o.threshold
            if beyond and adj < alpha:
                o = replace(o, status="fail", reason=f"beyond bound, Holm-adjusted p={adj:.3g} < {alpha:g}")
            else:
                o = replace(o, reason=f"CI [{o.ci_low:.4g}, {o.ci_high:.4g}] straddles bound; Holm-adjusted p={adj:.3g}")
        out[i] = o
    return out


def _drop(gate: GateSpec, model: str, dataset: str, rows: pd.DataFrame, inputs: GateInputs) -> list[GateOutcome]:
    max_drop = float(gate.max_drop or 0.0)
    versus = gate.max_drop_vs or "baseline"
    label = _describe(gate, f"{gate.metric} drop vs {versus} ≤ {max_drop:g}")
    if gate.significance:
        label += f" (α={gate.significance:g})"
    _, higher_is_better = inputs.metric(gate.metric)
    drafts = (
        _drop_vs_baseline(gate, model, dataset, rows, inputs, label, higher_is_better)
        if versus == "baseline"
        else _drop_vs_last_pass(gate, model, dataset, rows, inputs, label, higher_is_better)
    )
    if gate.per_slice:
        gated = [i for i, o in enumerate(drafts) if o.status == "pass" and math.isfinite(o.p_value)]
        for i, adj in zip(gated, holm([drafts[i].p_value for i in gated]), strict=True):
            drafts[i] = replace(drafts[i], adjusted_p=float(adj))
    return [_decide_drop(o, max_drop, gate.significance) for o in drafts]


def _decide_drop(o: GateOutcome, max_drop: float, significance: float | None) -> GateOutcome:
    if o.status != "pass":
        return o
    exceeds = o.value > max_drop
    if significance is None:
        return replace(o, status="fail" if exceeds else "pass", reason=f"drop {o.value:.4g} {'>' if exceeds else '≤'} {max_drop:g}")
    p = o.adjusted_p if math.isfinite(o.adjusted_p) else o.p_value
    significant = p < significance
    if exceeds and significant:
        return replace(o, status="fail", reason=f"drop {o.value:.4g} > {max_drop:g} and significant (p={p:.3g})")
    if exceeds:
        return replace(o, reason=f"drop {o.value:.4g} > {max_drop:g} but not significant (p={p:.3g} ≥ {significance:g})")
    return replace(o, reason=f"drop {o.value:.4g} ≤ {max_drop:g} (p={p:.3g})")


def _drop_vs_baseline(
    gate: GateSpec, model: str, dataset: str, rows: pd.DataFrame, inputs: GateInputs, label: str, hib: bool
) -> list[GateOutcome]:
    baseline = inputs.baseline()
    if baseline is None or baseline == model:
        why = "no baseline model in this run" if baseline is None else "the gated model is the baseline"
        return [GateOutcome(label, model, "all", "inconclusive", NAN, float(gate.max_drop or 0), reason=why,
                            dataset=dataset, variant=gate.variant)]
    out: list[GateOutcome] = []
    for slice_, row in rows.iterrows():
        slice_, n = str(slice_), int(row["n"])
        base = GateOutcome(label, model, slice_, "pass", NAN, float(gate.max_drop or 0), n=n,
                           dataset=dataset, variant=gate.variant)
        if _is_small(gate, slice_, n):
            diff = float(row["value"]) - _value(inputs.results, baseline, dataset, gate.variant, slice_, gate.metric)
            out.append(replace(base, status="reported", value=-diff if hib else diff, diff=diff,
                               reason=f"n={n} < min_slice_n={gate.min_slice_n}: not gated"))
            continue
        test = inputs.paired_test(model, baseline, dataset, gate.variant, slice_, gate.metric)
        paired = test.diff
        drop = -paired.diff if hib else paired.diff
        if gate.significance is None:
            p = NAN
        elif gate.metric in inputs.mcnemar_metrics and test.mcnemar is not None:
            p = test.mcnemar.p_a_worse
        else:
            p = paired.p_less if hib else paired.p_greater
        out.append(replace(base, value=drop, diff=paired.diff, ci_low=paired.ci_low, ci_high=paired.ci_high,
                           p_value=p, n=paired.n))
    return out


def _value(results: pd.DataFrame, model: str, dataset: str, variant: str, slice_: str, metric: str) -> float:
    match = results[(results["model"] == model) & (results["dataset"] == dataset) & (results["variant"] == variant)
                    & (results["slice"] == slice_) & (results["metric"] == metric)]
    return float(match["value"].iloc[0]) if not match.empty else NAN


def _drop_vs_last_pass(
    gate: GateSpec, model: str, dataset: str, rows: pd.DataFrame, inputs: GateInputs, label: str, hib: bool
) -> list[GateOutcome]:
    threshold = float(gate.max_drop or 0)
    last = inputs.last_pass
    if last is None or last.empty:
        return [GateOutcome(label, model, "all", "reported", NAN, threshold, dataset=dataset, variant=gate.variant,
                            reason="no earlier passing run to compare with")]
    last = last[(last["dataset"] == dataset) & (last["variant"] == gate.variant) & (last["metric"] == gate.metric)]
    same_model = last[last["model"] == model]
    last = same_model if not same_model.empty else last[last["role"] == "candidate"]
    last = last.drop_duplicates("slice").set_index("slice")
    z = norm_ppf(1 - (1 - inputs.confidence) / 2)
    out: list[GateOutcome] = []
    for slice_, row in rows.iterrows():
        slice_, n = str(slice_), int(row["n"])
        base = GateOutcome(label, model, slice_, "pass", NAN, threshold, n=n, dataset=dataset, variant=gate.variant)
        if _is_small(gate, slice_, n):
            out.append(replace(base, status="reported", reason=f"n={n} < min_slice_n={gate.min_slice_n}: not gated"))
            continue
        if slice_ not in last.index:
            out.append(replace(base, status="reported", reason="slice absent from the last passing run"))
            continue
        before = last.loc[slice_]
        diff = float(row["value"]) - float(before["value"])
        drop = -diff if hib else diff
        se = math.hypot(_se(row, z), _se(before, z))
        if not gate.significance:
            p = NAN
        elif se > 0:
            p = float(norm_sf(drop / se))
        else:
            p = 0.0 if drop > 0 else 1.0
        out.append(replace(base, value=drop, diff=diff, ci_low=diff - z * se, ci_high=diff + z * se, p_value=p))
    return out


def _se(row: pd.Series, z: float) -> float:
    low, high = float(row["ci_low"]), float(row["ci_high"])
    return (high - low) / (2 * z) if math.isfinite(low) and math.isfinite(high) else 0.0
