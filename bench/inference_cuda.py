"""``bench/inference.py --device cuda``: the InferencePool against a tuned single-process torch loop on a GPU.

Two models, each at every ``--precisions`` (fp32 = TF32 off, bf16 = autocast):

* the MLP 64→512→512→10 on float32 rows (``--rows``: 4M and 16M rows by default, batch ``--batch-size``);
  a call on 4M rows lasts ~75 ms on an H200, so per-call costs (the last shard's scores
  returned after the GPU is done) weigh on it: the ratio is taken at the largest size
  and the smaller one's printed as ``(info)``;
* ResNet-18 with random weights on uint8 3×224×224 images (``--images``, batch
  ``--image-batch``), cast and normalised on the device inside the model. It is
  torchvision's when importable, else the same architecture defined here
  (BasicBlock ×[2, 2, 2, 2], widths 64–512), so no download and no torchvision.

Both are saved as TorchScript and loaded the same way by both sides.

* **tuned torch** (the baseline): one process, the rows in a numpy array in
  host memory, each batch copied into one of two pinned buffers (torch's host
  threads, as many as the actor gets), sent with ``non_blocking`` copies on a copy
  stream while the previous batch computes on a compute stream, softmax on the
  device, outputs copied async into one pinned buffer. Timed from numpy rows to
  numpy scores. (``pre-pinned`` is printed too for the MLP, with every row
  already in pinned memory before the clock starts: an upper bound, not the ratio's base.)
* **InferencePool**: one actor per GPU, the rows in an Arrow IPC file on the
  local disk that the actor maps and reads by range (the product's large-dataset
  path: the driver ships no rows), warm (actors started and two calls made
  before timing).

Without CUDA, :func:`run` still runs every step on a simulated Ray GPU (the actors fall back
to the CPU) against :class:`PlainLoop`, a CPU stand-in for the tuned loop: a smoke run that
``tests/bench/test_gpu_bench_runs.py`` makes, so the bench cannot fail on a GPU machine for a
reason a CPU would have shown. Its figures mean nothing.

GPU idle share = 1 − (union of the compute stream's batch intervals, timed
with CUDA events, summed over GPUs) / (wall time × GPUs). Medians of
``--repeats`` calls, the two sides timed alternately. The last line is
``ratio_vs_tuned_torch: X`` (the lowest pool/tuned ratio over models and precisions, the MLP at its largest size).
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from suite.spec import ModelSpec, WorkersSpec
from workers.checksum import sha256_file
from workers.cluster import ensure_ray
from workers.device import autocast, set_precision
from workers.pool import InferencePool
from workers.row_files import write_rows


class _Block(torch.nn.Module):
    """ResNet's BasicBlock: two 3×3 convolutions and a shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.down = torch.nn.Sequential()
        if stride != 1 or cin != cout:
            self.down = torch.nn.Sequential(torch.nn.Conv2d(cin, cout, 1, stride, bias=False), torch.nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.down(x))


def resnet18() -> tuple[torch.nn.Module, str]:
    """ResNet-18 (1000 classes), random init: torchvision's if importable, else the same layers defined here."""
    try:
        from torchvision.models import resnet18 as tv_resnet18

        return tv_resnet18(weights=None), "torchvision"
    except Exception:  # absent, or built for another torch
        pass
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU(),
                                     torch.nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_Block(cin, cout, stride), _Block(cout, cout, 1)]
        cin = cout
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(512, 1000)]
    return torch.nn.Sequential(*layers), "defined in bench/inference_cuda.py"


class _OnDeviceNormalise(torch.nn.Module):
    """uint8 images in, normalised float on the device, then the network."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x.float() - self.mean) / self.std)


def save_models(folder: Path) -> tuple[Path, Path, str]:
    """The MLP and the normalising ResNet-18, scripted (traced for ResNet) with a fixed seed."""
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10)
    ).eval()
    torch.jit.script(mlp).save(str(folder / "mlp.pt"))
    net, source = resnet18()
    model = _OnDeviceNormalise(net.eval()).eval()
    torch.jit.trace(model, torch.zeros((2, 3, 224, 224), dtype=torch.uint8)).save(str(folder / "resnet18.pt"))
    return folder / "mlp.pt", folder / "resnet18.pt", source


def tuned_torch(module: torch.jit.ScriptModule, values: np.ndarray, batch: int, precision: str,
                pinned: list[torch.Tensor], on_device: list[torch.Tensor]) -> tuple[np.ndarray, float, float]:
    """The baseline loop (see the module docstring); returns the scores, the GPU busy seconds and the host copy seconds."""
    set_precision(precision)
    copy_stream, compute_stream = torch.cuda.Stream(), torch.cuda.Stream()
    copied = [torch.cuda.Event(), torch.cuda.Event()]
    consumed = [torch.cuda.Event(), torch.cuda.Event()]
    source, n, out, spans, filling = torch.from_numpy(values), len(values), None, [], 0.0
    with torch.inference_mode():
        for i, start in enumerate(range(0, n, batch)):
            stop, slot = min(start + batch, n), i % 2
            copied[slot].synchronize()
            began_fill = time.perf_counter()
            pinned[slot][: stop - start].copy_(source[start:stop])
            filling += time.perf_counter() - began_fill
            with torch.cuda.stream(copy_stream):
                copy_stream.wait_event(consumed[slot])
                on_device[slot][: stop - start].copy_(pinned[slot][: stop - start], non_blocking=True)
                copied[slot].record(copy_stream)
            with torch.cuda.stream(compute_stream):
                compute_stream.wait_event(copied[slot])
                began, ended = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                began.record(compute_stream)
                with autocast(precision, "cuda"):
                    y = module(on_device[slot][: stop - start])
                y = torch.softmax(y.float(), dim=1)
                consumed[slot].record(compute_stream)
                if out is None:
                    out = torch.empty((n, y.shape[1]), dtype=torch.float32, pin_memory=True)
                out[start:stop].copy_(y, non_blocking=True)
                ended.record(compute_stream)
                spans.append((began, ended))
        compute_stream.synchronize()
    return out.numpy(), sum(a.elapsed_time(b) for a, b in spans) / 1000.0, filling


def pre_pinned(module: torch.jit.ScriptModule, rows: torch.Tensor, batch: int, precision: str) -> np.ndarray:
    """The issue's tuned loop: every row already in pinned memory, non_blocking copies, one stream."""
    set_precision(precision)
    out = torch.empty((len(rows), 10), dtype=torch.float32, pin_memory=True)
    with torch.inference_mode():
        for start in range(0, len(rows), batch):
            x = rows[start : start + batch].to("cuda", non_blocking=True)
            with autocast(precision, "cuda"):
                y = module(x)
            out[start : start + batch].copy_(torch.softmax(y.float(), dim=1), non_blocking=True)
        torch.cuda.synchronize()
    return out.numpy()


class TunedLoop:
    """The baseline on a GPU: :func:`tuned_torch` with its staging buffers made once."""

    def __init__(self, path: Path, sample: np.ndarray, batch: int, precision: str) -> None:
        self.module = torch.jit.load(str(path), map_location="cuda").eval()
        self.batch, self.precision = batch, precision
        dtype = torch.from_numpy(sample[:0]).dtype
        self.pinned = [torch.empty((batch, *sample.shape[1:]), dtype=dtype, pin_memory=True) for _ in range(2)]
        self.on_device = [torch.empty_like(p, device="cuda") for p in self.pinned]

    def __call__(self, values: np.ndarray) -> tuple[np.ndarray, float, float]:
        """Scores, GPU busy seconds, host copy seconds."""
        return tuned_torch(self.module, values, self.batch, self.precision, self.pinned, self.on_device)

    def pre_pinned_rate(self, values: np.ndarray) -> float:
        """Rows/s of :func:`pre_pinned` (the rows pinned before the clock; the second of two calls)."""
        rows = torch.from_numpy(values).pin_memory()
        pre_pinned(self.module, rows, self.batch, self.precision)
        began = time.perf_counter()
        pre_pinned(self.module, rows, self.batch, self.precision)
        return len(values) / (time.perf_counter() - began)


class PlainLoop:
    """The stand-in without CUDA (a smoke run of this script, not a measurement): batches through the model on the CPU."""

    def __init__(self, path: Path, sample: np.ndarray, batch: int, precision: str) -> None:
        self.module = torch.jit.load(str(path), map_location="cpu").eval()
        self.batch, self.precision = batch, precision

    def __call__(self, values: np.ndarray) -> tuple[np.ndarray, float, float]:
        with torch.inference_mode(), autocast(self.precision, "cpu"):
            parts = [torch.softmax(self.module(torch.from_numpy(values[s : s + self.batch])).float(), dim=1).numpy()
                     for s in range(0, len(values), self.batch)]
        return np.concatenate(parts), 0.0, 0.0

    def pre_pinned_rate(self, values: np.ndarray) -> float:
        return float("nan")


def baseline(path: Path, sample: np.ndarray, batch: int, precision: str) -> TunedLoop | PlainLoop:
    """The tuned loop on a GPU, else the CPU stand-in."""
    return (TunedLoop if torch.cuda.is_available() else PlainLoop)(path, sample, batch, precision)


def mlp_label(rows: int) -> str:
    """The MLP's name at a size, e.g. ``mlp-4M`` (also its row file's and, with the precision, its model spec's name)."""
    return f"mlp-{rows / 1e6:g}M"


def pool_for(spec: ModelSpec, folder: Path, workers: WorkersSpec, knobs: dict | None = None) -> InferencePool:
    """A pool with the GPU knobs in ``knobs`` (``bench/gpu_sweep.py --best-config``'s JSON; the pool's defaults when empty)."""
    knobs = dict(knobs or {})
    at_start = {k: knobs.pop(k) for k in ("gpu_calls", "shared_output") if k in knobs}
    pool = InferencePool(spec, folder, task="classification", num_classes=None, workers=workers, name_prefix="bench", **at_start)
    for key, value in knobs.items():  # gpu_shards, gpu_guided, gpu_taper, gather_threads: read at each call
        if not hasattr(pool, key):
            pool.close()
            raise ValueError(f"pool config: unknown knob {key!r}")
        setattr(pool, key, value)
    return pool


def bench_model(name: str, path: Path, values: np.ndarray, batch: int, precision: str, folder: Path,
                workers: WorkersSpec, repeats: int, knobs: dict | None = None) -> float:
    """Time one model at one precision on both sides; print its lines and return pool/tuned."""
    unit = "images/s" if values.ndim > 2 else "rows/s"
    rows = write_rows(folder / f"{name}.arrow", values)
    os.sync()  # the file's dirty pages written back now, not by the kernel while the calls are timed
    spec = ModelSpec(name=f"{name}-{precision}", format="torchscript", path=path.name, sha256=sha256_file(path),
                     device="cuda", batch_size=batch, precision=precision)
    tuned = baseline(path, values, batch, precision)
    started = time.perf_counter()
    pool = pool_for(spec, folder, workers, knobs)
    placements = pool.placements()
    print(f"[{name} {precision}] pool start {time.perf_counter() - started:.1f} s; {len(pool._bounds(len(values)))} shards"
          f" (taper {pool.gpu_taper}),"
          f" gpu_calls {pool._gpu_calls}, {'guided' if pool.gpu_guided else 'even'}, gather threads {pool.gather_threads},"
          f" {'shared file' if pool._shared else 'object store'}; placement: "
          + "; ".join(f"pid {p['pid']} node {p['node_ip']} gpu_ids {p['gpu_ids']} {p.get('gpu_name', p['device'])}"
                     f" torch threads {p.get('torch_threads')}" for p in placements))
    ids = np.arange(len(values), dtype=np.int64)
    for _ in range(2):  # warm-up: TorchScript's profiling runs, cuDNN plans, page cache, pinned pools
        expected, _, _ = tuned(values)
        pool.predict(rows, ids)
    tuned_s, tuned_busy, tuned_fill, pool_s, pool_busy, stages = [], [], [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        expected, busy, filling = tuned(values)
        tuned_s.append(time.perf_counter() - t0)
        tuned_busy.append(busy)
        tuned_fill.append(filling)
        pool.timings(reset=True)
        t0 = time.perf_counter()
        scores = pool.predict(rows, ids)
        pool_s.append(time.perf_counter() - t0)
        stages.append(pool.timings(reset=True))
        pool_busy.append(stages[-1]["busy"])
    pool.close()
    gpus = len(placements)
    tuned_rate, pool_rate = len(values) / statistics.median(tuned_s), len(values) / statistics.median(pool_s)
    tuned_idle = 1 - statistics.median(b / s for b, s in zip(tuned_busy, tuned_s))
    pool_idle = 1 - statistics.median(b / (s * gpus) for b, s in zip(pool_busy, pool_s))
    diff = float(np.abs(scores - expected).max())
    print(f"[{name} {precision}] tuned torch: {tuned_rate:,.0f} {unit}, GPU idle {tuned_idle:.0%}  (median of {repeats})")
    print(f"[{name} {precision}] InferencePool ({gpus} actor(s), Arrow row file): {pool_rate:,.0f} {unit}, GPU idle {pool_idle:.0%};"
          f" max |pool - tuned| = {diff:.2e}")
    # where the pool's time goes (actors' own timers, summed over shards; two shards run at once per actor)
    ms = {k: 1000 * statistics.median(t.get(k, 0.0) for t in stages)
          for k in ("read", "fill", "wait", "drain", "write", "call", "gather", "lane")}
    gbs = values.nbytes / 1e9 / max(ms["fill"] / 1000, 1e-9)
    print(f"[{name} {precision}] pool per call (ms, summed over {stages[-1].get('calls', 0):.0f} shards): read {ms['read']:.1f},"
          f" fill {ms['fill']:.1f} ({gbs:.1f} GB/s per lane), wait-for-slot {ms['wait']:.1f}, drain {ms['drain']:.1f},"
          f" write {ms['write']:.1f}, wait-for-lane {ms['lane']:.1f}, model calls {ms['call']:.1f}; driver gather {ms['gather']:.1f};"
          f" wall {1000 * statistics.median(pool_s):.1f}")
    print(f"[{name} {precision}] tuned per call (ms): host copy into pinned {1000 * statistics.median(tuned_fill):.1f}"
          f" ({values.nbytes / 1e9 / max(statistics.median(tuned_fill), 1e-9):.1f} GB/s); wall {1000 * statistics.median(tuned_s):.1f}")
    if name.startswith("mlp"):
        print(f"[{name} {precision}] (info) pre-pinned loop, data pinned before the clock: {tuned.pre_pinned_rate(values):,.0f} {unit}")
    ratio = pool_rate / tuned_rate
    print(f"[{name} {precision}] ratio_vs_tuned: {ratio:.2f}")
    os.unlink(rows.path)
    return ratio


def run(args, folder: Path) -> float:
    """Both models at each precision; returns the lowest ratio."""
    cuda = torch.cuda.is_available()  # without: a smoke run on a simulated Ray GPU (actors fall back to the CPU)
    gpus = torch.cuda.device_count() if cuda else 1
    threads = max(1, min(8, (os.cpu_count() or 2) // (2 * gpus)))
    torch.set_num_threads(threads)  # the baseline's host threads = one actor's CPUs
    started = time.perf_counter()
    ensure_ray(None, num_cpus=os.cpu_count(), num_gpus=gpus)
    device = torch.cuda.get_device_name() if cuda else "simulated GPU, no CUDA: a smoke run, not a measurement"
    print(f"ray start: {time.perf_counter() - started:.2f} s; GPUs: {gpus} x {device}; torch {torch.__version__};"
          f" host threads per side: {threads}")
    mlp_path, resnet_path, source = save_models(folder)
    print(f"ResNet-18: {source}")
    rng = np.random.default_rng(0)
    features = rng.standard_normal((max(args.rows), 64), dtype=np.float32)
    images = rng.integers(0, 256, (args.images, 3, 224, 224), dtype=np.uint8)
    # num_actors not given: one actor per GPU; a shard stuck a minute fails that model's line, not the whole GPU session
    workers = WorkersSpec(cpus_per_actor=threads, shard_timeout_s=60, max_retries=0)
    knobs = json.loads(Path(args.pool_config).read_text()) if getattr(args, "pool_config", None) else {}
    print(f"pool knobs: {knobs or 'the defaults'}")
    sizes = sorted(args.rows)
    ratios, info = {}, {}
    for precision in args.precisions:
        runs = [(mlp_label(n), mlp_path, features[:n], args.batch_size) for n in sizes]
        runs.append(("resnet18", resnet_path, images, args.image_batch))
        for name, path, values, batch in runs:
            # the ratio is taken at the largest MLP size: a smaller call is reported, as latency more than throughput
            into = info if name.startswith("mlp-") and len(values) < sizes[-1] else ratios
            try:
                into[f"{name} {precision}"] = bench_model(name, path, values, batch, precision, folder, workers, args.repeats,
                                                          knobs)
            except Exception as exc:  # keep going: the other models still report
                print(f"[{name} {precision}] FAILED: {type(exc).__name__}: {exc}")
                into[f"{name} {precision}"] = 0.0
    print("summary: " + ", ".join(f"{k} {v:.2f}" for k, v in {**info, **ratios}.items()))
    if info:
        print(f"(info) ratio_at_{sizes[0] / 1e6:g}M_rows: {min(info.values()):.2f}")
    return min(ratios.values())
