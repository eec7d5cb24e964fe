"""The fixed cost of ``vigil run``: a tiny suite, cold and against a running Prefect server.

The tiny suite (written to a temporary folder) has one ``callable`` model, 200
rows of CSV, one metric and one gate, and no drift, perturbations or torch: what
it costs is start-up, not work. Each figure is the best of ``--repeats`` runs in
a fresh ``VIGIL_HOME`` (so inference is never cached and Ray always starts):

* ``fixed_cost_cold_s``: ``vigil run --verbose``'s own "started in" figure (from
  the process's start until the flow begins: imports, suite, Ray, Prefect's
  temporary server) with no server running;
* ``fixed_cost_warm_server_s``: the same with ``PREFECT_API_URL`` naming a
  server already up (started here, as ``vigil serve`` does);
* ``fixed_cost_served_s``: the same against a running ``vigil serve`` on the
  tiny suite's folder (a real one, with a private ``VIGIL_HOME`` shared with
  the runs): the run is forwarded to serve's warm spare (:mod:`cli.warm`),
  which has imported the run path and joined serve's Ray; the figure is still
  measured from the *client's* start. Each run waits for a fresh spare first,
  and the runs share serve's home, so only the first run infers (the others
  are served from the prediction cache, which the fixed cost does not include);
* ``total_*_s``: the whole command's wall time, which the tiny suite's work
  barely adds to, and ``cpu_*_s``: CPU seconds of the command and the children
  it waited for (less sensitive than wall time to a busy machine).

``--tree PATH`` runs another source tree's ``vigil`` (a baseline checkout, e.g.
``git archive <commit> | tar -x -C PATH``); a tree without the "started in" line
reports its total wall time as its fixed cost (and a tree without ``vigil
serve``'s spares, a run that was not forwarded). The last line is
``fixed_cost_served_s: X``.

Run: ``PYTHONPATH=. python bench/startup.py [--repeats 3] [--tree .]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: bench/ comes first, and bench.served must be importable
    sys.path.insert(0, str(ROOT))

from bench.served import ServedVigil  # noqa: E402
from flows.server import PrefectServer  # noqa: E402
from suite.processes import free_port  # noqa: E402

MODEL = "import numpy as np\n\n\ndef predict(x):\n    p = 1 / (1 + np.exp(-3 * np.asarray(x)[:, 0]))\n    return np.stack([1 - p, p], axis=1)\n"
STARTED = re.compile(r"started in ([0-9.]+) s")


def write_tiny_suite(folder: Path) -> Path:
    """The tiny suite in ``folder``; returns its YAML file."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(int)
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": y}).to_csv(folder / "data.csv", index=False)
    (folder / "model.py").write_text(MODEL)
    sha = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in ("model.py", "data.csv")}
    suite = folder / "suite.yaml"
    suite.write_text(f"""name: tiny
task: classification
seed: 1
models:
  - {{name: m, format: callable, module: model.py:predict, module_sha256: {sha['model.py']}}}
datasets:
  - {{name: d, path: data.csv, sha256: {sha['data.csv']}, label: label}}
metrics: [accuracy]
bootstrap: {{resamples: 100}}
workers: {{num_actors: 1}}
gates:
  - {{metric: accuracy, min: 0.5}}
""")
    return suite


def one_run(tree: Path, suite: Path, scratch: Path, env: dict[str, str], home: Path | None = None) -> tuple[float, float, float]:
    """(fixed cost, total wall, CPU) of one ``vigil run --verbose`` from ``tree`` in ``home`` (default a fresh VIGIL_HOME)."""
    home = home or Path(tempfile.mkdtemp(dir=scratch, prefix="home-"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    begun = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cli.main", "run", "--verbose", str(suite)], cwd=tree, capture_output=True, text=True,
                          env={**env, "VIGIL_HOME": str(home), "PYTHONPATH": str(tree)}, timeout=900)
    total = time.perf_counter() - begun
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"vigil run exited {done.returncode}:\n{done.stderr[-3000:]}")
    started = STARTED.search(done.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (float(started.group(1)) if started else total), total, cpu


def best(tree: Path, suite: Path, scratch: Path, env: dict[str, str], repeats: int, label: str,
         before_each: Callable[[], Path] | None = None) -> tuple[float, float, float]:
    """The best fixed cost, total and CPU over ``repeats`` runs, each printed as it ends (``before_each``: returns the home to use)."""
    runs = []
    for _ in range(repeats):
        runs.append(one_run(tree, suite, scratch, env, before_each() if before_each else None))
        print(f"  {label}: fixed {runs[-1][0]:.1f} s, total {runs[-1][1]:.1f} s, cpu {runs[-1][2]:.1f} s", flush=True)
    return min(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1], help="the source tree whose vigil runs")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="vigil-startup-"))
    try:
        suite = write_tiny_suite(scratch)
        env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "VIGIL_RAY_ADDRESS")}
        env.setdefault("PREFECT_HOME", str(scratch / "prefect-home"))  # its database is migrated by the first run, as on any machine
        one_run(args.tree.resolve(), suite, scratch, env)  # warm the OS file cache and Prefect's database; not counted
        cold = best(args.tree.resolve(), suite, scratch, env, args.repeats, "cold")
        with PrefectServer(scratch / "served", port=free_port()) as server:
            warm = best(args.tree.resolve(), suite, scratch, {**env, "PREFECT_API_URL": server.api_url}, args.repeats, "warm server")
        serve_env = {k: v for k, v in env.items() if k != "PREFECT_HOME"}  # serve's own server keeps its database in VIGIL_HOME
        serve_env |= {"VIGIL_HOME": str(scratch / "serve-home"), "PYTHONPATH": str(args.tree.resolve())}
        with ServedVigil([suite], serve_env, scratch / "serve.log", tree=args.tree.resolve()) as serve:
            served = best(args.tree.resolve(), suite, scratch, {**env, "VIGIL_HOME": str(serve.home)}, args.repeats, "served",
                          before_each=lambda: _home_once_spare_ready(serve))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"total_cold_s: {cold[1]:.2f}\ncpu_cold_s: {cold[2]:.2f}\ntotal_warm_server_s: {warm[1]:.2f}\ncpu_warm_server_s: {warm[2]:.2f}")
    print(f"total_served_s: {served[1]:.2f}\ncpu_served_s: {served[2]:.2f}")
    print(f"fixed_cost_cold_s: {cold[0]:.2f}\nfixed_cost_warm_server_s: {warm[0]:.2f}\nfixed_cost_served_s: {served[0]:.2f}")


def _home_once_spare_ready(serve: ServedVigil) -> Path:
    """Serve's home, once its next spare has warmed up (a run handed over sooner would wait for it)."""
    serve.ready_spare(180)
    return serve.home


if __name__ == "__main__":
    main()
