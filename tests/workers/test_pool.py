"""InferencePool on a real local Ray (2 CPUs, 1 simulated GPU)."""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import ray

from suite.errors import ChecksumError, PlacementTimeout, ShardTimeout, VigilError
from suite.spec import ModelSpec, WorkersSpec
from workers.cluster import ensure_ray
from workers.pool import InferencePool
from workers.warm_pools import close_pools, get_pool
from workers.predictor import Predictor
from workers.row_files import write_rows
from workers.shared_output import SharedOutput, Written, write_at

pytestmark = pytest.mark.usefixtures("local_ray")

TWO = WorkersSpec(num_actors=2, cpus_per_actor=1, gpus_per_actor=0.5, max_retries=2)


class SeededNoise:
    """A picklable transform: noise seeded by (seed, sample id), and a note of the process it ran in."""

    def __init__(self, seed: int, log_dir: Path, delay: float = 0.0) -> None:
        self.seed, self.log_dir, self.delay = seed, log_dir, delay

    def __call__(self, batch: np.ndarray, sample_ids: np.ndarray) -> np.ndarray:
        (self.log_dir / f"pid-{os.getpid()}").touch()
        time.sleep(self.delay)
        noise = np.stack([np.random.default_rng([self.seed, int(i)]).standard_normal(batch.shape[1]) for i in sample_ids])
        return (batch + noise).astype(np.float32)


class HangOn:
    """A picklable transform that hangs (sleeps ``seconds``) on the shard holding sample id ``sample``:
    on every try, or only the first (its marker file made with O_EXCL, so one process wins)."""

    def __init__(self, sample: int, marker: Path | None, seconds: float = 600.0) -> None:
        self.sample, self.marker, self.seconds = sample, marker, seconds

    def __call__(self, batch: np.ndarray, sample_ids: np.ndarray) -> np.ndarray:
        if self.sample in sample_ids:
            try:
                if self.marker is not None:
                    os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
                time.sleep(self.seconds)  # a hung model call, a wedged GPU
            except FileExistsError:
                pass  # hung once already: the retry goes through
        return batch


def many_rows(n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    return np.random.default_rng(2).standard_normal((n, 4)).astype(np.float32), np.arange(n, dtype=np.int64) + 1000


def test_ensure_ray_reuses_the_running_ray_and_refuses_auto() -> None:
    assert ensure_ray(None, num_cpus=2) == ray.get_runtime_context().gcs_address
    with pytest.raises(VigilError, match="got 'auto'"):
        ensure_ray("auto")


def test_a_local_ray_runs_no_autoscaler_monitor_no_log_monitor_and_no_api_server() -> None:
    """The session's Ray was started by ensure_ray: Ray's own record of the processes it started lacks all three, and Ray's classes are restored."""
    import ray._private.node as ray_node
    import ray._private.parameter as ray_parameter
    from ray._private import ray_constants

    started = set(ray._private.worker._global_node.all_processes)
    assert {ray_constants.PROCESS_TYPE_GCS_SERVER, ray_constants.PROCESS_TYPE_RAYLET} <= started  # the probe sees what Ray started
    assert not {ray_constants.PROCESS_TYPE_MONITOR, ray_constants.PROCESS_TYPE_LOG_MONITOR, ray_constants.PROCESS_TYPE_DASHBOARD} & started
    assert ray_parameter.RayParams.__name__ == "RayParams"
    assert ray_node.Node.start_api_server.__qualname__ == "Node.start_api_server"
    assert ray._private.services.get_node.__name__ == "get_node"


def test_the_wait_for_a_new_raylet_returns_once_the_gcs_lists_it() -> None:
    from workers.cluster import _await_node

    address, node = ray.get_runtime_context().gcs_address, ray.get_runtime_context().get_node_id()
    began = time.monotonic()
    _await_node(address, node)
    assert time.monotonic() - began < 0.5  # registered: at once
    _await_node(address, "ab" * 28, wait_s=0.3)  # a node the GCS never lists: until the deadline, then Ray's own wait decides
    assert 0.3 <= time.monotonic() - began < 1.5
    assert ray.get(ray.remote(lambda: 7).remote()) == 7


def test_two_actors_equal_the_in_process_predictor(tmp_path: Path, state_dict_spec: ModelSpec) -> None:
    features, ids = many_rows()
    spec = state_dict_spec.model_copy(update={"batch_size": 128})
    expected = Predictor(spec, tmp_path, task="classification", num_classes=3)(features)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t")
    try:
        assert len({p["pid"] for p in pool.placements()}) == 2
        np.testing.assert_array_equal(pool.predict(features, ids), expected)
        frame = pd.DataFrame(features, columns=list("abcd"))
        np.testing.assert_array_equal(pool.predict(frame, ids), expected)  # warm: same actors, second call
        assert pool.predict(features[:0], ids[:0]).shape == (0, 3)
        assert pool.timings(reset=True)["write"] == 0  # small calls (a shadow replay's batches) through the object store
        big, big_ids = many_rows(70_000)  # a CPU model's big calls come through the shared output by default: no copy held in the driver
        np.testing.assert_array_equal(pool.predict(big, big_ids), Predictor(spec, tmp_path, task="classification", num_classes=3)(big))
        assert pool.timings()["write"] > 0
    finally:
        pool.close()


def test_transform_runs_on_the_actors(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(500)
    transform = SeededNoise(seed=7, log_dir=tmp_path)
    expected = Predictor(torchscript_spec, tmp_path, task="classification", num_classes=3)(transform(features, ids))
    (tmp_path / f"pid-{os.getpid()}").unlink()
    pool = InferencePool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t")
    try:
        np.testing.assert_allclose(pool.predict(features, ids, transform=transform), expected, atol=1e-6)
        ran_in = {int(p.name.split("-")[1]) for p in tmp_path.glob("pid-*")}
        assert ran_in and ran_in <= {p["pid"] for p in pool.placements()} and os.getpid() not in ran_in
    finally:
        pool.close()


def test_variants_of_one_dataset_reuse_its_shards(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(500)
    noise = SeededNoise(seed=3, log_dir=tmp_path)
    predictor = Predictor(torchscript_spec, tmp_path, task="classification", num_classes=3)
    pool = InferencePool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t", shard_rows=64)
    try:
        clean = pool.predict(features, ids, data_key="d1")
        shipped = list(pool._last_shards[1])  # type: ignore[index]
        noisy = pool.predict(features, ids, transform=noise, data_key="d1")
        assert pool._last_shards[1] == shipped and all(ref is not None for ref in shipped)  # type: ignore[index]
        np.testing.assert_allclose(clean, predictor(features), atol=1e-6)
        np.testing.assert_allclose(noisy, predictor(noise(features, ids)), atol=1e-6)
        other = features[::-1].copy()
        np.testing.assert_allclose(pool.predict(other, ids, data_key="d2"), predictor(other), atol=1e-6)
    finally:
        pool.close()


@pytest.mark.parametrize("shared", [False, True])
def test_a_killed_actor_is_replaced_and_no_shard_is_lost_or_doubled(shared: bool, tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(6000)
    spec = torchscript_spec.model_copy(update={"batch_size": 20})  # 300 shards
    slow = SeededNoise(seed=3, log_dir=tmp_path, delay=0.01)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t", shared_output=shared)
    try:
        undisturbed = Predictor(spec, tmp_path, task="classification", num_classes=3)(slow(features, ids))
        victim = pool.actors[0]
        killer = threading.Timer(0.5, lambda: ray.kill(victim))
        killer.start()
        started = time.perf_counter()
        disturbed = pool.predict(features, ids, transform=slow)
        killer.join()
        assert time.perf_counter() - started > 0.6, "the run ended before the kill: nothing was proven"
        assert all(actor is not victim for actor in pool.actors)  # replaced during the run
        # shards of one batch: the same numbers as one in-process call, the killed actor's shards written again
        np.testing.assert_allclose(disturbed, undisturbed, rtol=1e-6, atol=1e-7)
        assert (pool.timings()["write"] > 0) == shared and all(pool._local.values())
    finally:
        pool.close()


def test_scores_written_into_the_shared_output_equal_the_object_store_path(
    tmp_path: Path, torchscript_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    features, ids = many_rows(3000)
    rows = write_rows(tmp_path / "rows.arrow", features)
    spec = torchscript_spec.model_copy(update={"batch_size": 100})
    made: list[str] = []
    create = SharedOutput.create
    monkeypatch.setattr(SharedOutput, "create", lambda *a: made.append((out := create(*a)).path) or out)
    shared = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t", shared_output=True)
    try:
        shared._shared = False  # the same actors (the cluster has room for two), scores through the object store
        expected = shared.predict(features, ids)
        assert not made and shared.timings(reset=True)["write"] == 0
        shared._shared = True
        for source in (features, rows):
            shared.timings(reset=True)
            scores = shared.predict(source, ids)
            np.testing.assert_array_equal(scores, expected)
            assert type(scores) is np.ndarray and scores.flags.writeable
            times = shared.timings(reset=True)
            assert times["write"] > 0 and times["calls"] == 15
        shared._local[id(shared.actors[1])] = False  # as if on another node: its shards come through the object store
        np.testing.assert_array_equal(shared.predict(rows, ids), expected)
        assert shared.timings()["write"] > 0
        assert len(made) == 3 and not any(os.path.exists(path) for path in made)  # unlinked: the arrays keep the pages
        assert shared.predict(features[:0], ids[:0]).shape == (0, 3)
    finally:
        shared.close()


def test_big_scores_come_back_by_reference_and_are_gathered_as_they_arrive(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(240_000)
    spec = torchscript_spec.model_copy(update={"batch_size": 30_000})  # shards of 60,000 rows: 720,000 bytes of scores
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t", shared_output=False)
    try:
        host = pool.actors[0]
        small = ray.get(host.predict.remote((features[:60_000], ids[:60_000]), None))
        big = ray.get(host.predict.remote((features[:100_000], ids[:100_000]), None))  # 1.2 MB: put by the actor
        assert type(small) is np.ndarray and isinstance(big, ray.ObjectRef)
        expected = Predictor(spec, tmp_path, task="classification", num_classes=3)(features)
        np.testing.assert_array_equal(ray.get(big), expected[:100_000])
        np.testing.assert_array_equal(pool.predict(features, ids), expected)
        pool.shard_rows, pool._fixed_shards = 120_000, True  # 1.44 MB a shard: every shard by reference
        scores = pool.predict(features, ids)
        np.testing.assert_array_equal(scores, expected)
        assert scores.flags.writeable and scores.flags.c_contiguous
        for threads in (0, 1, 3):  # taken on the dealing loop one at a time, or by taker threads copying on 1 or 3 threads
            pool.gather_threads = threads
            np.testing.assert_array_equal(pool.predict(features, ids), expected)
        assert pool.timings()["gather"] > 0
    finally:
        pool.close()


def test_scores_lost_with_the_actor_that_put_them_are_computed_again(
    tmp_path: Path, torchscript_spec: ModelSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the actor dies after it put a shard's scores into the object store, before the driver read them."""
    features, ids = many_rows(360_000)
    spec = torchscript_spec.model_copy(update={"batch_size": 60_000})  # shards of 120,000 rows: 1.44 MB of scores each
    workers = WorkersSpec(num_actors=1, cpus_per_actor=1, max_retries=1)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=workers, name_prefix="t", shared_output=False)
    victim, wait, lost = pool.actors[0], ray.wait, []

    def wait_then_kill(refs, **kwargs):
        done, rest = wait(refs, **kwargs)
        if not lost:
            lost.append(ray.get(done[0]))  # the scores' reference, owned by the actor
            ray.kill(victim)
            deadline = time.monotonic() + 30  # a dead owner's object stays readable for a moment, then is lost
            while time.monotonic() < deadline:
                try:
                    ray.get(lost[0], timeout=5)
                except ray.exceptions.ObjectLostError:
                    break
                time.sleep(0.05)
        return done, rest

    try:
        expected = Predictor(spec, tmp_path, task="classification", num_classes=3)(features)
        monkeypatch.setattr(ray, "wait", wait_then_kill)
        scores = pool.predict(features, ids)
        monkeypatch.undo()
        assert isinstance(lost[0], ray.ObjectRef) and pool.actors[0] is not victim
        with pytest.raises(ray.exceptions.ObjectLostError):
            ray.get(lost[0], timeout=5)
        np.testing.assert_array_equal(scores, expected)
    finally:
        pool.close()


WIDTH_BY_SIGN = """
import numpy as np


def width_by_sign(batch):
    k = 2 if batch[0, 0] > 0 else 3
    return np.full((len(batch), k), 1.0 / k)
"""


def test_shards_scored_with_different_widths_are_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "rule.py").write_text(WIDTH_BY_SIGN)
    spec = ModelSpec(name="rule", format="callable", module="rule.py:width_by_sign", batch_size=10)
    features = np.ones((40, 4), dtype=np.float32)
    features[20:] = -1  # the last two shards of 10 rows score 3 classes, the first two 2: whichever comes first sets the shape
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=None, workers=TWO, name_prefix="t",
                         shared_output=False, shard_rows=10)
    try:
        with pytest.raises(VigilError, match=r"^model rule: expected scores of 10 rows of shape \((2|3),\) for rows \d+:\d+ \(as the first shard's\), got shape \(10, (3|2)\)$"):
            pool.predict(features, np.arange(40))
    finally:
        pool.close()


def test_big_shards_scored_with_different_widths_are_a_clear_error_from_the_taker_threads(tmp_path: Path) -> None:
    (tmp_path / "rule.py").write_text(WIDTH_BY_SIGN)
    spec = ModelSpec(name="rule", format="callable", module="rule.py:width_by_sign", batch_size=100_000)
    features = np.ones((800_000, 4), dtype=np.float32)
    features[400_000:] = -1  # shards of 200,000 rows: 2 or 3 classes, 1.6–2.4 MB of scores, all taken off the dealing loop
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=None, workers=TWO, name_prefix="t",
                         shared_output=False, shard_rows=200_000)
    try:
        with pytest.raises(VigilError, match=r"^model rule: expected scores of 200000 rows of shape \((2|3),\) for rows \d+:\d+"):
            pool.predict(features, np.arange(len(features)))
    finally:
        pool.close()


def test_a_shard_written_again_at_its_offset_replaces_what_was_there(tmp_path: Path) -> None:
    out = SharedOutput.create(rows=6, row_bytes_hint=8)
    first, second = np.arange(8, dtype=np.float32).reshape(4, 2), np.full((2, 2), 9.0, dtype=np.float32)
    write_at(out.path, 4, second)
    write_at(out.path, 0, np.zeros((4, 2), dtype=np.float32))  # a dead actor's partial write
    notes = [write_at(out.path, 0, first), Written(2, "<f4", (2,))]
    np.testing.assert_array_equal(out.array(notes), np.concatenate([first, second]))
    assert not os.path.exists(out.path)
    other = SharedOutput.create(rows=6, row_bytes_hint=8)
    with pytest.raises(VigilError, match=r"expected 6 rows of one shape, got .* in 5 rows"):
        other.array([write_at(other.path, 0, first), Written(1, "<f4", (2,))])
    assert not os.path.exists(other.path)


def test_a_shard_failing_past_max_retries_is_an_error(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(2000)
    spec = torchscript_spec.model_copy(update={"batch_size": 20})
    workers = WorkersSpec(num_actors=1, cpus_per_actor=1, max_retries=0)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=workers, name_prefix="t")
    try:
        threading.Timer(0.3, lambda: ray.kill(pool.actors[0])).start()
        with pytest.raises(VigilError, match=r"failed on 1 actors \(workers.max_retries is 0\)"):
            pool.predict(features, ids, transform=SeededNoise(seed=1, log_dir=tmp_path, delay=0.01))
    finally:
        pool.close()


def test_cuda_model_is_placed_on_a_gpu_actor_and_computes_on_cpu(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(400)
    spec = torchscript_spec.model_copy(update={"device": "cuda"})
    expected = Predictor(torchscript_spec, tmp_path, task="classification", num_classes=3)(features)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t")
    try:
        for placement in pool.placements():
            assert placement["gpu_ids"], "a cuda model's actor holds no GPU"
            assert placement["device"] == "cpu"  # no CUDA on this machine: falls back
        np.testing.assert_allclose(pool.predict(features, ids), expected, atol=1e-6)
        assert pool.timings()["write"] == 0  # a cuda model's scores come through the object store by default
    finally:
        pool.close()


def test_checksum_is_checked_before_any_actor_starts(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    (tmp_path / "linear.pt").write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match="sha256 mismatch"):
        InferencePool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=TWO, name_prefix="t")


def test_a_model_that_fails_to_load_on_the_actors_is_a_clear_error(tmp_path: Path, state_dict_spec: ModelSpec) -> None:
    wrong = state_dict_spec.model_copy(update={"init_args": {"inputs": 5, "classes": 3}})
    one = WorkersSpec(num_actors=1, cpus_per_actor=1)
    with pytest.raises(VigilError, match=r"^model sd: checkpoint .* does not fit nets/tiny.py:TinyNet: TinyNet: size mismatch for"):
        InferencePool(wrong, tmp_path, task="classification", num_classes=3, workers=one, name_prefix="t")


def test_get_pool_keeps_actors_warm_across_calls(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    one = WorkersSpec(num_actors=1, cpus_per_actor=1)
    first = get_pool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=one)
    try:
        pids = {p["pid"] for p in first.placements()}
        again = get_pool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=one)
        assert again is first and {p["pid"] for p in again.placements()} == pids
        first.close()
        with pytest.raises(VigilError, match="pool is closed"):
            first.predict(np.zeros((1, 4), dtype=np.float32), np.zeros(1, dtype=np.int64))
        fresh = get_pool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=one)
        assert fresh is not first and not pids & {p["pid"] for p in fresh.placements()}
    finally:
        close_pools()


def test_actors_that_cannot_be_placed_are_an_error_not_a_hang(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    greedy = WorkersSpec(num_actors=3, cpus_per_actor=1, start_timeout_s=3)  # the local Ray has 2 CPUs
    notes: list[str] = []
    with pytest.raises(PlacementTimeout, match=r"^model ts: 3 actors asking for 1 CPU each not placed within 3 s \(workers.start_timeout_s\); "
                                               r"cluster has 0 of 2 CPUs, 1 of 1 GPUs free$"):
        InferencePool(torchscript_spec, tmp_path, task="classification", num_classes=3, workers=greedy, name_prefix="t", on_wait=notes.append)
    assert notes, "the wait was never reported"
    assert all(re.fullmatch(r"waiting \d+ s for [1-3] of 3 actors \(1 CPU each\) to be placed and load the model; cluster has 0 of 2 CPUs, 1 of 1 GPUs free", n) for n in notes), notes
    deadline = time.monotonic() + 10
    while ray.available_resources().get("CPU") != 2 and time.monotonic() < deadline:  # the GCS frees killed actors' CPUs in a moment
        time.sleep(0.1)
    assert ray.available_resources().get("CPU") == 2, "the placed actors were not stopped"


def test_a_stuck_actor_is_stopped_and_its_shards_dealt_again(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(2000)
    spec = torchscript_spec.model_copy(update={"batch_size": 100})
    workers = TWO.model_copy(update={"shard_timeout_s": 4.0})
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=workers, name_prefix="t")
    try:
        expected = pool.predict(features, ids)
        before = list(pool.actors)
        started = time.perf_counter()
        scores = pool.predict(features, ids, transform=HangOn(sample=1500, marker=tmp_path / "hung"))
        assert (tmp_path / "hung").exists(), "nothing hung: nothing was proven"
        assert 4.0 <= time.perf_counter() - started < 120  # waited out the timeout, not the 600 s sleep
        np.testing.assert_array_equal(scores, expected)  # every shard once, the stuck one computed again
        assert sum(actor not in before for actor in pool.actors) == 1  # only the stuck actor was replaced
    finally:
        pool.close()


def test_an_actor_stuck_on_every_try_is_an_error_naming_the_timeout(tmp_path: Path, torchscript_spec: ModelSpec) -> None:
    features, ids = many_rows(500)
    spec = torchscript_spec.model_copy(update={"batch_size": 100})
    workers = WorkersSpec(num_actors=1, cpus_per_actor=1, max_retries=1, shard_timeout_s=2.0)
    pool = InferencePool(spec, tmp_path, task="classification", num_classes=3, workers=workers, name_prefix="t")
    try:
        expected = pool.predict(features, ids)
        started = time.perf_counter()
        with pytest.raises(ShardTimeout, match=r"model ts: shard 0 failed on 2 actors \(workers.max_retries is 1\): no shard"
                                             r" finished within 2 s \(workers.shard_timeout_s\): the actor was stopped as stuck"):
            pool.predict(features, ids, transform=HangOn(sample=1000, marker=None))
        assert time.perf_counter() - started < 120
        np.testing.assert_array_equal(pool.predict(features, ids), expected)  # the stuck actors were stopped and replaced
    finally:
        pool.close()
