"""Shared fixtures: an isolated VIGIL_HOME, the digits example copied to a temp folder, services."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durations import add_option, longest_first, register

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "examples" / "digits"
PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


# Fixtures that start or need a service (Prefect, Ray, PostgreSQL): a test using one is `slow`, out of `make test-fast`.
SERVICE_FIXTURES = frozenset({"prefect_server", "prefect_api", "local_ray", "session_ray", "session_services", "postgres_url", "postgres_server"})


def pytest_addoption(parser: pytest.Parser) -> None:
    add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    register(config)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test that uses a service fixture or needs Postgres or Chromium; the longest files first."""
    for item in items:
        if (SERVICE_FIXTURES & set(getattr(item, "fixturenames", ()))
                or item.get_closest_marker("postgres") or item.get_closest_marker("chromium")):
            item.add_marker(pytest.mark.slow)
    longest_first(items)


def _services_up() -> set[str]:
    """The services running in this process now: a local Ray, Prefect's temporary API server."""
    up = set()
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        up.add("a local Ray")
    server = sys.modules.get("prefect.server.api.server")
    if server is not None and any(s.running for s in list(server.SubprocessASGIServer._instances.values())):
        up.add("a Prefect server")
    ours = sys.modules.get("flows.server")  # the temporary server `vigil run` starts itself
    if ours is not None and any(s.running for s in ours.TemporaryServer.started):
        up.add("a Prefect server")
    return up


@pytest.fixture(autouse=True)
def _fast_tests_start_no_service(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test not marked `slow` that starts Ray or a Prefect server, so `make test-fast` stays fast."""
    if request.node.get_closest_marker("slow"):
        yield
        return
    before = _services_up()
    yield
    started = _services_up() - before
    if started:
        pytest.fail(f"{request.node.nodeid} started {' and '.join(sorted(started))}: mark it slow (or use a service fixture)", pytrace=False)


def require(condition: bool, why: str) -> None:
    """Skip when a service is missing on a user's machine, but fail on CI."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (required when CI is set)")
    pytest.skip(why)


@pytest.fixture(scope="session")
def digits_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's checkpoints, trained once if missing (under a lock: xdist workers share the example folder)."""
    if not (DIGITS / "checkpoints" / "candidate.pt").exists():
        with (tmp_path_factory.getbasetemp().parent / "digits-train.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (DIGITS / "checkpoints" / "candidate.pt").exists():
                subprocess.run([sys.executable, str(DIGITS / "train.py"), "--quiet"], check=True)
    return DIGITS / "checkpoints"


@pytest.fixture()
def digits_suite(tmp_path: Path, digits_checkpoints: Path) -> Path:
    """A private copy of the digits example; tests may edit it freely."""
    target = tmp_path / "digits"
    shutil.copytree(DIGITS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "suite.yaml"


@pytest.fixture()
def cancer_suite(tmp_path: Path) -> Path:
    """A private copy of the breast-cancer example."""
    target = tmp_path / "breast_cancer"
    shutil.copytree(ROOT / "examples" / "breast_cancer", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "suite.yaml"


@pytest.fixture()
def vigil_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty VIGIL_HOME with the default SQLite index."""
    home = tmp_path / "vigil-home"
    monkeypatch.setenv("VIGIL_HOME", str(home))
    monkeypatch.delenv("VIGIL_INDEX_URL", raising=False)
    monkeypatch.delenv("VIGIL_RAY_ADDRESS", raising=False)
    return home


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named Postgres database, dropped afterwards."""
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except Exception as exc:  # noqa: BLE001
        require(False, f"PostgreSQL at 127.0.0.1:5432 is not reachable ({type(exc).__name__})")
    name = f"vigil_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'create database "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def session_ray() -> Iterator[str]:
    """One real local Ray for the whole session (per xdist worker): 2 CPUs and 1 simulated GPU.

    The simulated GPU lets GPU placement be checked on a CPU machine. Flows run
    in this process find it through ``ensure_ray`` and reuse it, so Ray starts
    once, not once per module. Yields the cluster's GCS address (as first started:
    :func:`start_session_ray` gives the current one).
    """
    import ray

    from workers.warm_pools import close_pools

    yield start_session_ray()
    close_pools()
    ray.shutdown()


def start_session_ray() -> str:
    """Connect this process to its session Ray (2 CPUs, 1 simulated GPU), starting it again if a module replaced it; its GCS address.

    A module that needs another Ray (``tests/workers/test_device.py``: 2 simulated GPUs) shuts the
    session's down and starts this one again after, at a new address.
    """
    import ray

    from workers.cluster import ensure_ray
    from workers.warm_pools import close_pools

    if ray.is_initialized() and ray.cluster_resources().get("GPU") != 1:
        close_pools()
        ray.shutdown()  # started by a test outside this fixture, without the one simulated GPU
    return ensure_ray(None, num_cpus=2, num_gpus=1)


@pytest.fixture(scope="session")
def local_ray(session_ray: str) -> str:
    """The session's local Ray (see :func:`session_ray`); a folder's conftest may wrap it under this name."""
    return session_ray


@pytest.fixture(scope="session")
def prefect_server(session_ray: str) -> Iterator[str]:
    """A real temporary Prefect server for the whole session; flows in this process run on the session's Ray. Yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield str(PREFECT_API_URL.value())


@pytest.fixture
def session_services(session_ray: str, prefect_server: str) -> dict[str, str]:
    """Environment for a `vigil` child process that joins this session's Ray and Prefect server instead of starting its own.

    A cold `vigil run` starts a local Ray and a temporary Prefect server (seconds of CPU
    each); tests that are not about start-up, crashes or the process tree pass this to
    their children (``env={**env, **session_services}``) so only the work is paid for.
    Pools this process keeps warm are stopped first, and the session's CPUs must be free:
    a child whose actors found no CPU would wait ``workers.start_timeout_s`` (300 s).
    """
    import ray

    from workers.warm_pools import close_pools

    address = start_session_ray()  # not the fixture's value: a module may have started it again elsewhere
    close_pools()
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < ray.cluster_resources().get("CPU", 0) and time.monotonic() < deadline:
        time.sleep(0.2)  # the GCS frees a stopped actor's CPUs in a moment
    free, total = ray.available_resources().get("CPU", 0), ray.cluster_resources().get("CPU", 0)
    assert free == total, f"the session's Ray has {free:g} of {total:g} CPUs free: an earlier test left actors running"
    return {"VIGIL_RAY_ADDRESS": address, "PREFECT_API_URL": prefect_server}


@pytest.fixture(autouse=True)
def _prefect_console_on_an_open_stream() -> Iterator[None]:
    """Point Prefect's console log handlers back at the real stderr after a test.

    A handler created inside a ``CliRunner`` invocation keeps that invocation's
    stream, closed when it returns; a later log record would then fail, and with
    ``log_prints`` the error report itself is logged again, recursing.
    """
    yield
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and getattr(handler.stream, "closed", False):
                handler.stream = handler.console.file = sys.__stderr__  # not setStream: it flushes the closed one
