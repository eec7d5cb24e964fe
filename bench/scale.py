"""Evaluation at scale on one machine: the real ``vigil run`` on 100k, 1M and 10M rows, timed and weighed.

For each size the bench writes a seeded table (64 float32 features, a 4-value
``segment`` slice, a 10-class label; ``bench/scale_data.py``), the MLP
64→512→512→10 as pinned TorchScript, and a suite in the issue's setting (five
metrics, one slice, 1000 bootstrap resamples, 2 actors × 1 CPU, no drift, no
perturbations), then runs ``python -m cli.main run`` beside a running ``vigil
serve`` (``bench/served.py``), as a team would: the run is handed to serve's warm
spare, on serve's Ray and Prefect server. It measures the wall time of the
``vigil run`` command, the driver's peak RSS (``VmHWM`` of the spare that ran it,
polled from /proc) and the peak of the whole process tree's PSS (serve, its
Prefect server, Ray's head, GCS and workers, the spares; PSS so that Ray's shared
object store is counted once).

The fixed cost is a 200-row run of the same suite (the MLP included, whose actors
import torch), whole-command wall time: first (the first run on a machine: no
server, and Prefect's temporary server creates and migrates its database, a
once-only cost), cold (no server running: ``vigil`` starts Prefect's temporary one
on the database the first run left, and Ray; its driver is the ``vigil`` process;
a fresh ``VIGIL_HOME``, so it infers) and served (handed to ``vigil serve``, as the
sizes are). ``bench/startup.py`` times the start alone, on a suite without torch. Each run is killed at ``--max-minutes`` and reported as timed out;
a size is skipped once a smaller one timed out, or when the largest finished size's
rate projects it past 3× the budget.

``--baseline`` adds a baseline MLP to each size's suite, with paired drop gates of
every kind (``bench/scale_data.py: BASELINE_GATES``): twice the inference, and the
gates' paired tests streamed from both models' predictions.

Usage:
    PYTHONPATH=$PWD python bench/scale.py [--sizes 100k,1M,10M] [--quick] [--baseline] [--max-minutes 10] [--keep DIR]

``--quick`` is ``--sizes 100k,1M``. The last line is ``rows_per_s_at_<largest size>: X``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script, bench/ comes first and bench/drift.py would shadow the drift package
    sys.path.insert(0, str(ROOT))

from bench.proc_tree import TreeWatch, kill_tree  # noqa: E402
from bench.scale_data import size_name, write_bench  # noqa: E402
from bench.served import ServedVigil  # noqa: E402

TINY_ROWS = 200
POLL_S, TREE_EVERY_S, HEARTBEAT_S = 0.25, 2.0, 30.0


def parse_size(text: str) -> int:
    """``100k`` → 100000, ``1M`` → 1000000, ``2500`` → 2500."""
    scale = {"k": 1_000, "m": 1_000_000}.get(text.strip()[-1:].lower(), 1)
    number = text.strip()[:-1] if scale > 1 else text.strip()
    try:
        rows = int(float(number) * scale)
    except ValueError:
        raise SystemExit(f"bench/scale.py: --sizes: expected sizes like 100k, 1M, 2500, got {text!r}") from None
    if rows < 1:
        raise SystemExit(f"bench/scale.py: --sizes: expected a positive size, got {text!r}")
    return rows


# ---- one `vigil run` ------------------------------------------------------------------------
@dataclass
class RunFigures:
    """What one ``vigil run`` cost."""

    label: str
    rows: int
    wall_s: float
    returncode: int | None
    timed_out: bool
    driver_peak_mb: float
    tree_peak_mb: float
    accuracy: float | None
    stages: dict[str, float] = field(default_factory=dict)
    timeline: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Finished with a recorded run (exit 0, or 1 for a failed gate)."""
        return not self.timed_out and self.returncode in (0, 1)

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s


def vigil_env(home: Path, prefect_home: Path, api_url: str | None) -> dict[str, str]:
    """The environment of one run: its own VIGIL_HOME, a local Ray, and a Prefect server only when ``api_url`` names one."""
    env = {**os.environ, "VIGIL_HOME": str(home), "PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    for name in ("VIGIL_INDEX_URL", "VIGIL_RAY_ADDRESS", "RAY_ADDRESS", "PREFECT_API_URL"):
        env.pop(name, None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _accuracy(stdout: Path) -> float | None:
    """The overall accuracy in the run's ``--json`` document: a check that the run scored what it read."""
    try:
        document = json.loads(stdout.read_text())
    except (OSError, ValueError):
        return None
    return next((r["value"] for r in document.get("results", []) if r.get("metric") == "accuracy" and r.get("slice") == "all"), None)


def run_vigil(label: str, suite: Path, rows: int, env: dict[str, str], logs: Path, budget_s: float,
              served: ServedVigil | None = None) -> RunFigures:
    """Run ``vigil run suite --json`` to the end or to ``budget_s``, printing a heartbeat; its figures.

    With ``served`` (a running ``vigil serve`` of ``env``'s VIGIL_HOME) the run is handed to serve's
    warm spare: the driver watched is that spare, the tree serve's (its Prefect server, Ray head and
    spares). With a Prefect server (``PREFECT_API_URL`` in ``env``, or serve's), the stages are the
    run's Prefect task runs, read back from that server.
    """
    api_url = str(served.info["api_url"]) if served is not None else env.get("PREFECT_API_URL")
    out, lines = logs / f"{label}.stdout.json", []
    spare = served.ready_spare() if served is not None else None  # before the run starts: it takes this one
    with out.open("wb") as stdout:
        began, began_epoch = time.perf_counter(), time.time()
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "run", str(suite), "--json"], cwd=ROOT, env=env,
                                   stdout=stdout, stderr=subprocess.PIPE, start_new_session=True)
        pump = threading.Thread(target=pump_stderr, args=(process.stderr, logs / f"{label}.stderr.log", began, lines), daemon=True)
        pump.start()
        watch = TreeWatch(process.pid) if spare is None or served is None or served.process is None else TreeWatch(spare, root=served.process.pid)
        next_tree, next_beat, timed_out = 0.0, began + HEARTBEAT_S, False
        while process.poll() is None:
            now = time.perf_counter()
            if now - began > budget_s:
                kill_tree(process.pid)
                process.wait()
                timed_out = True
                break
            watch.sample(tree=now >= next_tree)
            next_tree = now + TREE_EVERY_S if now >= next_tree else next_tree
            if now >= next_beat:
                print(f"  … {label}: {now - began:4.0f} s, driver RSS {watch.driver_now_kb / 1024:,.0f} MB "
                      f"(peak {watch.driver_peak_kb / 1024:,.0f}), tree PSS peak {watch.tree_peak_kb / 1024:,.0f} MB "
                      f"over {watch.processes} processes", flush=True)
                next_beat += HEARTBEAT_S
            time.sleep(POLL_S)
        wall = time.perf_counter() - began
    pump.join(timeout=10)  # Ray's processes inherit the pipe: it closes when the last of them exits
    if not timed_out and process.returncode not in (0, 1):
        tail = [line for _, line in lines if line.strip()][-3:]
        print(f"  ! {label}: vigil exited {process.returncode}: {' | '.join(tail)}", flush=True)
    stages = prefect_stages(api_url, began_epoch, wall) if api_url and not timed_out else {}
    return RunFigures(label, rows, wall, process.returncode, timed_out, watch.driver_peak_kb / 1024, watch.tree_peak_kb / 1024,
                      None if timed_out else _accuracy(out), stages, milestones(lines) | {"exit": wall})


MILESTONES = (("prepared", r"^running "), ("ray up", r"Started a local Ray instance"), ("infer start", r"^infer: started"),
              ("infer done", r"^infer: done"), ("score done", r"^score: done"))
"""Lines of ``vigil run``'s stderr that mark where a run's time goes: suite and data prepared, Ray started, the stages."""


def pump_stderr(stream: IO[bytes], log: Path, began: float, lines: list[tuple[float, str]]) -> None:
    """Copy the run's stderr to ``log`` and ``lines``, each line stamped with the seconds since the run began."""
    with log.open("w") as fh:
        for raw in stream:
            at, line = time.perf_counter() - began, raw.decode(errors="replace").rstrip("\n")
            lines.append((at, line))
            fh.write(f"[{at:7.1f} s] {line}\n")
            fh.flush()


def milestones(lines: list[tuple[float, str]]) -> dict[str, float]:
    """The seconds at which each of :data:`MILESTONES` first appeared."""
    found: dict[str, float] = {}
    for at, line in lines:
        for name, pattern in MILESTONES:
            if name not in found and re.search(pattern, line):
                found[name] = at
    return found


def _post(api_url: str, path: str, body: dict) -> list[dict]:
    request = urllib.request.Request(api_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def prefect_stages(api_url: str, began_epoch: float, wall_s: float) -> dict[str, float]:
    """Where the newest flow run's time went: the seconds before its flow started, each task's run time, and the flow's.

    Task runs are named ``score-871`` or ``infer mlp · table · clean``; a stage is the name's
    first word without the suffix, summed over its task runs. Empty when the server cannot say.
    """
    try:
        flow = _post(api_url, "/flow_runs/filter", {"flow_runs": {"start_time": {"is_null_": False}}, "sort": "START_TIME_DESC", "limit": 1})[0]
        tasks = _post(api_url, "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow["id"]]}}, "sort": "EXPECTED_START_TIME_ASC", "limit": 200})
        started = datetime.fromisoformat(flow["start_time"].replace("Z", "+00:00")).timestamp()
    except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError):
        return {}
    stages = {"before flow": started - began_epoch}
    for task in tasks:
        name = re.sub(r"-[0-9a-f]{3}$", "", task["name"]).split(" ")[0]
        stages[name] = stages.get(name, 0.0) + float(task.get("total_run_time") or 0.0)
    return stages | {"flow": float(flow.get("total_run_time") or 0.0), "after flow": wall_s - (started - began_epoch) - float(flow.get("total_run_time") or 0.0)}


# ---- the bench ------------------------------------------------------------------------------
def _hopeless(rows: int, done: list[RunFigures], served: RunFigures, budget_s: float) -> str | None:
    """Why a size would obviously exceed the budget: a smaller size timed out or was skipped, or the largest finished one projects past 3× the budget.

    The projection is the served fixed cost plus the rows at the largest finished size's
    net rate; 3× leaves room for a loaded machine's swings (a 100k run on a busy
    2-core host projected 1M at 24 min when 1M took under 5 min on a quieter one).
    """
    if any(r.timed_out and r.rows < rows for r in done):
        return "a smaller size timed out"
    finished = [r for r in done if r.ok and r.wall_s > served.wall_s]
    if not finished:
        return None
    largest = max(finished, key=lambda r: r.rows)
    projected = served.wall_s + rows * (largest.wall_s - served.wall_s) / largest.rows  # fixed cost + rows at the net rate
    if projected > 3 * budget_s:
        return f"{largest.label}'s rate projects {projected / 60:.0f} min, over 3x the {budget_s / 60:.0f} min budget"
    return None


def _row(figures: RunFigures, gen_s: float | None = None) -> str:
    status = "timed out" if figures.timed_out else "ok" if figures.ok else f"exit {figures.returncode}"
    accuracy = f"{figures.accuracy:.3f}" if figures.accuracy is not None else "-"
    generated = f"{gen_s:7.1f}" if gen_s is not None else "      -"
    stages = ", ".join(f"{stage} {seconds:.0f}" for stage, seconds in figures.stages.items() if seconds >= 0.5 or stage in ("flow", "after flow"))
    timeline = ", ".join(f"{name} {at:.0f}" for name, at in figures.timeline.items())
    return (f"{figures.label:>10} {figures.rows:>11,} {generated} {figures.wall_s:8.1f} {figures.rows_per_s:>11,.0f} "
            f"{figures.driver_peak_mb:>10,.0f} {figures.tree_peak_mb:>10,.0f} {accuracy:>6} {status}"
            + (f"\n{'':>12}at s: {timeline}" if timeline else "") + (f"\n{'':>12}seconds in (Prefect): {stages}" if stages else ""))


HEADER = f"{'run':>10} {'rows':>11} {'gen s':>7} {'wall s':>8} {'rows/s':>11} {'driver MB':>10} {'tree MB':>10} {'acc':>6} status"


def bench(folder: Path, sizes: list[int], budget_s: float, keep_tables: bool = False, baseline: bool = False) -> None:
    """Fixed cost, then each size handed to a running ``vigil serve``; prints the table and the summary lines."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {folder}; budget per run: {budget_s / 60:.1f} min; driver MB = vigil's VmHWM, "
          "tree MB = peak summed PSS of vigil (or serve) and its descendants (Ray, Prefect; PSS splits shared pages, so it can be below the driver's RSS)", flush=True)
    print(HEADER, flush=True)
    tiny = write_bench(folder / "suites", TINY_ROWS)
    first = run_vigil("first-200", tiny, TINY_ROWS, vigil_env(folder / "home-first", folder / "prefect-cold", None), logs, budget_s)
    print(_row(first), flush=True)
    cold = run_vigil("cold-200", tiny, TINY_ROWS, vigil_env(folder / "home-cold", folder / "prefect-cold", None), logs, budget_s)
    print(_row(cold), flush=True)
    env = vigil_env(folder / "home-served", folder / "prefect-client", None)
    with ServedVigil([tiny], env, logs / "serve.log") as served:
        print(f"  (vigil serve up in {served.started_s:.1f} s: its Prefect server, Ray head and warm spare; runs below are handed to it)", flush=True)
        warm = run_vigil("served-200", tiny, TINY_ROWS, env, logs, budget_s, served)
        print(_row(warm), flush=True)
        results: list[RunFigures] = []
        for rows in sizes:
            name = size_name(rows)
            why = _hopeless(rows, results, warm, budget_s)
            if why:
                print(f"{name:>10} {rows:>11,} skipped: {why}", flush=True)
                results.append(RunFigures(name, rows, budget_s, None, True, 0.0, 0.0, None))
                continue
            began = time.perf_counter()
            suite = write_bench(folder / "suites", rows, baseline=baseline)
            gen_s = time.perf_counter() - began
            figures = run_vigil(name, suite, rows, env, logs, budget_s, served)
            print(_row(figures, gen_s), flush=True)
            results.append(figures)
            if not keep_tables:
                (suite.parent / f"table-{name}.parquet").unlink(missing_ok=True)  # 10M rows are 2.6 GB on disk
    print()
    print(f"first_run_cold_s: {first.wall_s:.1f}" + ("" if first.ok else " (did not finish)"))
    print(f"fixed_cost_cold_s: {cold.wall_s:.1f}" + ("" if cold.ok else " (did not finish)"))
    print(f"fixed_cost_served_s: {warm.wall_s:.1f}" + ("" if warm.ok else " (did not finish)"))
    for figures in results:
        if figures.ok:
            beyond = figures.wall_s - warm.wall_s  # no net rate when the run took no longer than the fixed cost
            net = f"{figures.rows / beyond:,.0f} net of the served fixed cost" if beyond > 1 else "within the served fixed cost"
            print(f"{figures.label}: wall_s {figures.wall_s:.1f}, driver_peak_mb {figures.driver_peak_mb:.0f}, tree_peak_mb "
                  f"{figures.tree_peak_mb:.0f}, rows_per_s {figures.rows_per_s:,.0f} ({net})")
        elif figures.returncode is not None or figures.driver_peak_mb:  # ran, and was killed or failed: its peaks so far
            print(f"{figures.label}: {'timed out' if figures.timed_out else f'exit {figures.returncode}'} at {figures.wall_s:.0f} s, "
                  f"driver_peak_mb {figures.driver_peak_mb:.0f} and tree_peak_mb {figures.tree_peak_mb:.0f} by then")
    last = results[-1]
    value = f"{last.rows_per_s:.0f}" if last.ok else f"{'skipped' if last.returncode is None else 'timed out'} (< {last.rows / budget_s:.0f} rows/s within {budget_s:.0f} s)"
    print(f"rows_per_s_at_{last.label}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100k,1M,10M", help="comma-separated row counts (default 100k,1M,10M)")
    parser.add_argument("--quick", action="store_true", help="the sizes 100k,1M")
    parser.add_argument("--max-minutes", type=float, default=10.0, help="kill a run after this many minutes (default 10); skip a size projected past 3x that")
    parser.add_argument("--keep", type=Path, default=None, help="write data, suites, logs and homes here and keep them")
    parser.add_argument("--baseline", action="store_true", help="each size's suite also has a baseline MLP and paired drop gates (accuracy with McNemar, "
                        "per slice too, log loss, ROC AUC): two models' inference, and the gates' paired tests streamed")
    args = parser.parse_args()
    sizes = sorted(parse_size(s) for s in ("100k,1M" if args.quick else args.sizes).split(","))
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        bench(args.keep.resolve(), sizes, args.max_minutes * 60, keep_tables=True, baseline=args.baseline)
        return
    folder = Path(tempfile.mkdtemp(prefix="vigil-bench-scale-"))
    try:
        bench(folder, sizes, args.max_minutes * 60, baseline=args.baseline)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
