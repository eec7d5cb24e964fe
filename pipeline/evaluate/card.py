"""A model card from measurements: :func:`model_card` turns a model's stored evidence into a card.

Nothing here reads storage (:mod:`pipeline.evaluate.card_inputs` does) or guesses:
a field the suite does not declare says "not declared", a measurement never
stored says which data is missing ("no drift windows stored for this suite").
Training facts come from the model's ``metadata:`` in the suite (recorded with
every run): ``license``, ``training_data``, ``training``, ``compute``, ``intended_use``.

Example:
    >>> fmt_ci(0.91234, 0.9, 0.93)
    '0.9123 [0.9000, 0.9300]'
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from evaluators.metrics import METRICS
from pipeline.evaluate.card_inputs import CardInputs
from reports.card import NOT_DECLARED, CardSection, CardTable, CheckItem, ModelCard
from storage.records import ModelVersionRecord
from suite.errors import VigilError

DECLARED: tuple[tuple[str, str], ...] = (
    ("license", "Licence"),
    ("training_data", "Training data sources"),
    ("training", "Training configuration"),
    ("compute", "Training compute"),
    ("intended_use", "Intended use"),
)
"""The ``models[].metadata`` keys a card reads, and their headings."""
_WORST_SLICES = 3
_NO_DATA = ("no per-slice", "not computed", "no region", "no perturbations stored", "not measured", "no drift windows stored",
            "no trend yet", "no earlier version", "not stored")
"""Phrases of the limitation lines that report missing data (or context), not a measured limitation."""
_FAILURE_MODES = ("breaks at severity", "Worst slices", "worse than the baseline**", "Newly wrong")


def fmt(value: Any, digits: int = 4) -> str:
    """A number for the card (``n/a`` for a missing one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def fmt_ci(value: Any, low: Any, high: Any) -> str:
    """``value [low, high]``."""
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def _declared(meta: dict[str, Any], key: str) -> Any:
    return meta.get(key) if key != "license" else meta.get("license", meta.get("licence"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _higher(metric: str) -> bool:
    return METRICS.get(metric).higher_is_better if metric in METRICS else True


def slice_metric(inputs: CardInputs) -> str:
    """The metric per slice: the primary one, unless it compares classes (macro F1, ROC AUC), which a slice
    holding one true class cannot measure; then the first of the run's metrics that does not."""
    primary = inputs.primary
    if primary not in METRICS or not METRICS.get(primary).across_classes:
        return primary
    stored = list(dict.fromkeys(inputs.results["metric"]))
    return next((m for m in stored if m in METRICS and not METRICS.get(m).across_classes and m != "ece"), primary)


def _clean(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["variant"] == "clean"]


def _baseline(inputs: CardInputs) -> str | None:
    other = [m.name for m in inputs.run.models if m.role == "baseline" and m.name != inputs.model]
    return other[0] if other else None


def _shown_path(path: str, inputs: CardInputs) -> str:
    """``path`` relative to the suite's folder when it lies under it (a card should not carry one machine's layout)."""
    if not path or inputs.spec is None:
        return path
    try:
        return str(Path(path).relative_to(inputs.spec.base_dir.resolve()))
    except ValueError:
        return path


def _checksums(inputs: CardInputs, indexed: str) -> list[str]:
    """The checkpoint's sha256; with upstream modules the index keys the whole pipeline, so both are shown."""
    pinned = None
    if inputs.spec is not None and inputs.spec.upstream:
        pinned = next((m.sha256 for m in inputs.spec.models if m.name == inputs.model), None)
    if pinned is None or pinned == indexed:
        return [f"- **Checkpoint sha256**: `{indexed}`"]
    return [f"- **Checkpoint sha256** (pinned in the suite): `{pinned}`",
            f"- **Evaluated sha256** (checkpoint with the suite's upstream modules, as indexed): `{indexed}`"]


def _entry(inputs: CardInputs) -> ModelVersionRecord:
    found = next((m for m in inputs.run.models if m.name == inputs.model), None)
    if found is None:
        raise VigilError(f"model {inputs.model!r}: not evaluated in run {inputs.run.run_id}; it evaluated {sorted(m.name for m in inputs.run.models)}")
    return found


def _details(inputs: CardInputs) -> CardSection:
    entry = _entry(inputs)
    meta = inputs.metadata
    fingerprint = ((inputs.run.provenance.get("prediction_fingerprints") or {}).get(inputs.model) or {}).get("sha256")
    lines = [f"- **Name**: `{entry.name}` (role: {entry.role})", f"- **Format**: {entry.format}",
             *_checksums(inputs, entry.sha256), f"- **Checkpoint path**: `{_shown_path(entry.path, inputs) or 'none (code only)'}`",
             f"- **Version label**: {entry.version or NOT_DECLARED}",
             f"- **Prediction fingerprint**: `{fingerprint}`" if fingerprint else "- **Prediction fingerprint**: not recorded by this run"]
    lines += [f"- **{title}**: {_text(_declared(meta, key)) if _declared(meta, key) else NOT_DECLARED}" for key, title in DECLARED]
    known = {k for k, _ in DECLARED} | {"licence"}
    lines += [f"- **{key}** (declared): {_text(value)}" for key, value in sorted(meta.items()) if key not in known]
    seen = inputs.history.groupby("model_sha", sort=False).agg(first=("started_at", "min"), last=("started_at", "max"), runs=("run_id", "nunique"))
    rows = [[f"`{sha[:16]}`", str(first.date()), str(last.date()), str(runs)] for sha, (first, last, runs) in seen.iterrows()]
    tables = [CardTable(["checkpoint sha256", "first run", "last run", "runs"], rows, "Versions of this model seen in the suite's runs")] if rows else []
    if not rows:
        lines.append("- **Versions seen**: only this run")
    return CardSection("Model details", lines, tables)


def _slice_definitions(inputs: CardInputs) -> list[str]:
    if inputs.spec is not None:
        if not inputs.spec.slices:
            return ["- **Slices**: none (the suite defines no slices)"]
        return [f"- **Slice** on `{s.column}`" + (f": bins {list(s.bins)}" if getattr(s, "bins", None) else ": one slice per value")
                for s in inputs.spec.slices]
    names = sorted({s for s in inputs.results["slice"] if s != "all"})
    if not names:
        return ["- **Slices**: none stored"]
    return [f"- **Slices** (names as stored; the suite file is not at hand): {', '.join(names[:20])}" + (" …" if len(names) > 20 else "")]


def _evaluation_data(inputs: CardInputs) -> CardSection:
    specs = {d.name: d for d in inputs.spec.datasets} if inputs.spec is not None else {}
    rows = [[d.name, str(d.rows), f"`{d.sha256}`", _shown_path(d.source, inputs), specs[d.name].split if d.name in specs and specs[d.name].loader else ""]
            for d in inputs.run.datasets]
    prov = inputs.run.provenance
    git = prov.get("git") or {}
    env = [f"- **Seed**: {prov.get('seed', 'not recorded')}",
           f"- **Suite fingerprint**: `{inputs.run.suite_hash}`",
           f"- **Environment**: Python {prov.get('python', 'not recorded')}, "
           + ", ".join(f"{k} {v}" for k, v in sorted((prov.get("packages") or {}).items()) if v),
           f"- **Machine**: {prov.get('platform', 'not recorded')}; CPU {(prov.get('cpu') or {}).get('model', 'not recorded')}; "
           f"GPU {', '.join((prov.get('gpu') or {}).get('name') or []) or 'none'}",
           f"- **Code**: git {git.get('commit', 'not recorded')[:12]}{' (dirty)' if git.get('dirty') else ''}" if git else "- **Code**: not in a git repository"]
    return CardSection("Evaluation data", [f"Run `{inputs.run.run_id}`, started {inputs.run.started_at:%Y-%m-%d %H:%M} UTC.",
                                           *_slice_definitions(inputs), *env],
                       [CardTable(["dataset", "rows", "sha256", "source", "split"], rows)])


def _metrics(inputs: CardInputs) -> CardSection:
    clean, base = _clean(inputs.results), _baseline(inputs)
    whole = clean[clean["slice"] == "all"]
    rows = []
    for (dataset, metric), group in whole.groupby(["dataset", "metric"], sort=True):
        mine = group[group["model"] == inputs.model]
        if mine.empty:
            continue
        m = mine.iloc[0]
        row = [dataset, metric, fmt_ci(m["value"], m["ci_low"], m["ci_high"]), str(int(m["n"]))]
        other = group[group["model"] == base] if base else group.iloc[0:0]
        row += [fmt_ci(other.iloc[0]["value"], other.iloc[0]["ci_low"], other.iloc[0]["ci_high"]), f"{m['value'] - other.iloc[0]['value']:+.4f}"] if not other.empty else ["no baseline", ""]
        rows.append(row)
    tables = [CardTable(["dataset", "metric", inputs.model, "n", f"baseline ({base or 'none'})", "difference"], rows, "Whole set, clean inputs: value [95% CI]")]
    primary = slice_metric(inputs)
    per_slice = clean[(clean["slice"] != "all") & (clean["metric"] == primary)]
    srows = []
    for (dataset, slice_name), group in per_slice.groupby(["dataset", "slice"], sort=True):
        mine, other = group[group["model"] == inputs.model], group[group["model"] == base]
        if mine.empty:
            continue
        m = mine.iloc[0]
        srows.append([dataset, slice_name, str(int(m["n"])), fmt_ci(m["value"], m["ci_low"], m["ci_high"]),
                      fmt_ci(other.iloc[0]["value"], other.iloc[0]["ci_low"], other.iloc[0]["ci_high"]) if not other.empty else "no baseline"])
    lines = [] if srows else [f"No per-slice results for {primary} (the suite defines no slices)."]
    if srows:
        tables.append(CardTable(["dataset", "slice", "n", inputs.model, f"baseline ({base or 'none'})"], srows, f"{primary} per slice, clean inputs: value [95% CI]"))
    return CardSection("Metrics", lines, tables)


def _worst_slices(inputs: CardInputs) -> list[str]:
    primary = slice_metric(inputs)
    rows = _clean(inputs.results)
    rows = rows[(rows["slice"] != "all") & (rows["metric"] == primary) & (rows["model"] == inputs.model)].dropna(subset=["value"])
    if rows.empty:
        return [f"- **Worst slices**: no per-slice {primary} stored (no slices in the suite)"]
    worst = rows.sort_values("value", ascending=_higher(primary)).head(_WORST_SLICES)
    found = "; ".join(f"`{r.slice}` ({r.dataset}, n={int(r.n)}): {fmt_ci(r.value, r.ci_low, r.ci_high)}" for r in worst.itertuples())
    return [f"- **Worst slices** by {primary}: {found}"]


def _regions(inputs: CardInputs) -> list[str]:
    found = inputs.worst_regions
    if found is None or found.empty:
        return ["- **Where it is worse than the baseline**: not computed for this model (it is not a candidate, or the suite has no baseline)"]
    top = found[found["z"] > 0].head(3)
    if top.empty:
        return ["- **Where it is worse than the baseline**: no region where its error exceeds the baseline's"]
    items = "; ".join(f"{f'{r.family} in ' if str(r.region).startswith(('[', '(')) else ''}{r.region} (n={int(r.n)}: error {fmt(r.cand_error, 3)} vs {fmt(r.base_error, 3)}, p={fmt(r.p_value, 3)})" for r in top.itertuples())
    return [f"- **Where it is worse than the baseline**: {items}"]


def _robustness(inputs: CardInputs) -> list[str]:
    found = inputs.robustness
    if found is None or found.empty:
        return ["- **Robustness**: no perturbations stored for this run (the suite lists none)"]
    lines = []
    for r in found.itertuples():
        broken = "not broken up to the highest severity" if r.breaking_severity != r.breaking_severity else f"breaks at severity {int(r.breaking_severity)}"
        lines.append(f"- **Robustness, {r.perturbation}** ({r.dataset}): {broken} (tolerance {fmt(r.tolerance, 3)} of {r.metric}); "
                     f"clean {fmt(r.clean)}, worst {fmt(r.worst)}, relative robustness {fmt(r.relative_robustness, 3)}")
    return lines


def _calibration(inputs: CardInputs) -> list[str]:
    rows = _clean(inputs.results)
    rows = rows[(rows["metric"] == "ece") & (rows["model"] == inputs.model)].dropna(subset=["value"])
    if rows.empty:
        return ["- **Calibration**: not measured (the suite computes no ece)"]
    whole = rows[rows["slice"] == "all"]
    parts = [f"expected calibration error {fmt_ci(r.value, r.ci_low, r.ci_high)} on {r.dataset}" for r in whole.itertuples()]
    sliced = rows[rows["slice"] != "all"].sort_values("value", ascending=False)
    if not sliced.empty:
        w = sliced.iloc[0]
        parts.append(f"worst slice `{w['slice']}` {fmt_ci(w['value'], w['ci_low'], w['ci_high'])}")
    return [f"- **Calibration**: {'; '.join(parts)}"]


def _drift(inputs: CardInputs) -> list[str]:
    lines = []
    windows = inputs.windows
    if windows.empty:
        lines.append("- **Sensitivity to drift**: no drift windows stored for this suite")
    else:
        drifted = windows[windows["drift_share"] > 0]
        measured = windows.dropna(subset=["accuracy"])
        text = f"{len(windows)} drift windows stored ({windows['window'].iloc[0]} to {windows['window'].iloc[-1]}), {len(drifted)} with drifted columns"
        if not measured.empty:
            calm, moved = measured[measured["drift_share"] == 0], measured[measured["drift_share"] > 0]
            text += (f"; labelled accuracy {fmt(calm['accuracy'].mean())} in windows without drift vs {fmt(moved['accuracy'].mean())} with drift"
                     if not calm.empty and not moved.empty else f"; labelled accuracy {fmt(measured['accuracy'].min())}–{fmt(measured['accuracy'].max())}")
        estimated = windows.dropna(subset=["accuracy_estimated"])
        if not estimated.empty:
            text += f"; estimated accuracy (no labels needed) from {fmt(estimated['accuracy_estimated'].min())} to {fmt(estimated['accuracy_estimated'].max())}"
        lines.append(f"- **Sensitivity to drift**: {text}")
    table = inputs.drift
    if table is not None and not table.empty and "drifted" in table.columns:
        data = table[table["kind"] == "data"] if "kind" in table.columns else table
        moved = sorted(data.loc[data["drifted"].astype(bool), "column"].astype(str))
        lines.append(f"- **Evaluation data vs the drift reference**: {len(moved)}/{len(data)} columns drifted" + (f" ({', '.join(moved[:8])})" if moved else ""))
    return lines


def _aging(inputs: CardInputs) -> list[str]:
    history, primary = inputs.history, inputs.primary
    version = inputs.results.loc[inputs.results["metric"] == primary, "metric_version"]
    if not version.empty:
        history = history[history["metric_version"] == version.iloc[0]]
    runs = history["run_id"].nunique()
    if runs < 2:
        return [f"- **Performance over time**: one run of the suite stored for this model: no trend yet ({primary})"]
    first, last = history.iloc[0], history.iloc[-1]
    lo, hi = history["value"].min(), history["value"].max()
    return [f"- **Performance over time** ({primary}, {runs} runs, {first['started_at']:%Y-%m-%d} to {last['started_at']:%Y-%m-%d}): "
            f"first {fmt_ci(first['value'], first['ci_low'], first['ci_high'])}, latest {fmt_ci(last['value'], last['ci_low'], last['ci_high'])}, range {fmt(lo)}–{fmt(hi)}"]


def _newly_wrong(inputs: CardInputs) -> list[str]:
    lines = []
    if inputs.previous is None:
        lines.append(f"- **Newly wrong vs the previous version**: no earlier version of `{inputs.model}` stored for this suite")
    elif inputs.newly_wrong_vs_previous is None:
        lines.append(f"- **Newly wrong vs the previous version** (run `{inputs.previous.run_id}`): predictions of one of the runs not stored")
    else:
        lost = inputs.newly_wrong_vs_previous
        for (dataset, compared), group in lost.groupby(["dataset", "compared"]) if not lost.empty else []:
            ids = ", ".join(str(i) for i in group["sample_id"].head(10))
            lines.append(f"- **Newly wrong vs the previous version** (run `{inputs.previous.run_id}`), {dataset}: {len(group)} of {compared} rows; sample ids {ids}")
        if lost.empty:
            lines.append(f"- **Newly wrong vs the previous version** (run `{inputs.previous.run_id}`): none")
    found = inputs.newly_wrong_vs_baseline
    if found is not None and not found.empty:
        ids = ", ".join(str(i) for i in found["sample_id"].head(10))
        lines.append(f"- **Newly wrong vs the baseline**: {len(found)} rows the baseline gets right (most confident first: sample ids {ids})")
    return lines


def _limitations(inputs: CardInputs) -> CardSection:
    lines = [*_worst_slices(inputs), *_regions(inputs), *_robustness(inputs), *_calibration(inputs), *_drift(inputs),
             *_aging(inputs), *_newly_wrong(inputs)]
    return CardSection("Limitations (measured)", ["Each line is a measurement from the stored runs, not a judgement.", *lines])


def _checklist(inputs: CardInputs, limitations: CardSection) -> list[CheckItem]:
    meta, prov = inputs.metadata, inputs.run.provenance
    entry = _entry(inputs)
    data_ok = all(d.sha256 for d in inputs.run.datasets)
    licence = _declared(meta, "license")
    sources = _declared(meta, "training_data")
    env = [k for k in ("python", "packages", "platform") if prov.get(k)]
    measured = [line for line in limitations.lines[1:] if not any(phrase in line for phrase in _NO_DATA)]
    failures = [line for line in measured if any(phrase in line for phrase in _FAILURE_MODES)]
    return [
        CheckItem("checksums", bool(entry.sha256) and data_ok,
                  f"checkpoint sha256 {entry.sha256[:12]}…, {len(inputs.run.datasets)} dataset sha256s" if entry.sha256 and data_ok else "a checkpoint or dataset checksum is missing"),
        CheckItem("licence", bool(licence), f"declared: {licence}" if licence else f"{NOT_DECLARED} (add models[].metadata.license to the suite)"),
        CheckItem("data provenance", bool(sources) and data_ok,
                  f"training data: {_text(sources)}; evaluation data pinned by sha256" if sources else
                  f"training data sources {NOT_DECLARED} (models[].metadata.training_data)"),
        CheckItem("evaluation environment", len(env) == 3, f"recorded: {', '.join(env)}" if len(env) == 3 else "the run's environment is not recorded"),
        CheckItem("limitations", bool(measured), f"{len(measured)} measured limitations" if measured else "no limitation measured"),
        CheckItem("known failure modes", bool(failures), f"{len(failures)} found (worst slices, breaking severities, newly wrong rows)" if failures else "no failure mode measured"),
    ]


def _index_results(inputs: CardInputs) -> list[dict[str, Any]]:
    specs = {d.name: d for d in inputs.spec.datasets} if inputs.spec is not None else {}
    task = inputs.spec.task if inputs.spec is not None else ("classification" if "accuracy" in set(inputs.results["metric"]) else "regression")
    whole = _clean(inputs.results)
    whole = whole[(whole["slice"] == "all") & (whole["model"] == inputs.model)].dropna(subset=["value"])
    out = []
    for data in inputs.run.datasets:
        rows = whole[whole["dataset"] == data.name]
        if rows.empty:
            continue
        spec = specs.get(data.name)
        kind = "image" if spec is not None and spec.image_shape else "tabular"
        dataset = {"name": data.name, "type": (spec.loader or spec.path) if spec is not None else data.source}
        if spec is not None and spec.loader:
            dataset["split"] = spec.split
        metrics = [{"type": r.metric, "value": round(float(r.value), 6),
                    "name": f"{r.metric} (95% CI {fmt(r.ci_low)}–{fmt(r.ci_high)}, n={int(r.n)})"} for r in rows.itertuples()]
        out.append({"task": {"type": f"{kind}-{task}", "name": task.capitalize()}, "dataset": dataset, "metrics": metrics})
    return out


def model_card(inputs: CardInputs) -> ModelCard:
    """The card of ``inputs.model``: details, evaluation data, metrics, measured limitations, release checklist."""
    limitations = _limitations(inputs)
    licence = _declared(inputs.metadata, "license")
    task = inputs.spec.task if inputs.spec is not None else None
    tags = ["vigil", f"suite:{inputs.run.suite}", *([task] if task else [])]
    return ModelCard(model=inputs.model, suite=inputs.run.suite, run_id=inputs.run.run_id, license=str(licence) if licence else None,
                     tags=tags, index_results=_index_results(inputs),
                     sections=[_details(inputs), _evaluation_data(inputs), _metrics(inputs), limitations],
                     checklist=_checklist(inputs, limitations))


def build_model_card(settings: Any, *, suite: str, model: str, run_id: str | None = None, spec: Any = None) -> ModelCard:
    """Read ``model``'s evidence from the store (:func:`~pipeline.evaluate.card_inputs.card_inputs`) and build its card.

    Raises:
        VigilError: the suite has no completed run of the model, or ``run_id`` is unknown, of another suite or lacks the model.
    """
    from pipeline.evaluate.card_inputs import card_inputs

    return model_card(card_inputs(settings, suite=suite, model=model, run_id=run_id, spec=spec))
