"""A local Prefect server as a child process: started with its own PREFECT_HOME, stopped by PID, killed with us.

Both servers Vigil may run (``PrefectServer`` for ``vigil serve``, and the
temporary one Prefect would start without ``PREFECT_API_URL``, which Vigil
starts itself: :func:`start_temporary_server`) carry Linux ``PR_SET_PDEATHSIG``:
when the process that started them dies, even by ``kill -9``, the kernel kills them.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

from suite.errors import VigilError
from suite.processes import free_port, main_thread_on_linux, parent_death_signal


class PrefectServer:
    """``prefect server start`` on ``host:port`` (SQLite under ``home``, or Postgres by URL).

    Used as a context manager (``with PrefectServer(home, port=4200) as server:``), it
    is healthy inside the block and stopped after it; ``server.api_url`` is
    ``http://127.0.0.1:4200/api``.
    """

    def __init__(self, home: Path, port: int, host: str = "127.0.0.1", database_url: str | None = None) -> None:
        self.home, self.port, self.host, self.database_url = home, port, host, database_url
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        """The API address clients set as PREFECT_API_URL."""
        return f"http://{self.host}:{self.port}/api"

    def start(self, timeout_s: float = 90.0) -> PrefectServer:
        """Start the server and wait until ``/api/health`` answers."""
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PREFECT_HOME": str(self.home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "true",
               # the UI's own idea of where the API is (else it asks port 4200 whatever --port says)
               "PREFECT_SERVER_API_HOST": self.host, "PREFECT_SERVER_API_PORT": str(self.port), "PREFECT_UI_API_URL": self.api_url}
        env.pop("PREFECT_API_URL", None)
        if self.database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = self.database_url
        log = (self.home / "server.log").open("ab")
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", self.host, "--port", str(self.port)]
        dies_with_us = parent_death_signal() if main_thread_on_linux() else None  # `vigil serve` killed -9 takes its server along
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=dies_with_us)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise VigilError(f"prefect server exited with {self.process.returncode}; see {self.home / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise VigilError(f"prefect server on {self.host}:{self.port}: expected healthy within {timeout_s:.0f} s, got no answer")

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the server's process group, then SIGKILL it if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> PrefectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the temporary server, in place of the one Prefect starts by itself ---------------------
class TemporaryServer:
    """Prefect's temporary API server (what Prefect starts without ``PREFECT_API_URL``), started by Vigil without waiting.

    Prefect would start it on first use, after importing its whole server
    package in this process (4 to 6 s of CPU on the 2-core CI machine) only to
    spawn ``uvicorn``; here the same command is spawned directly, so nothing of
    the server is imported here, and the caller does other start-up work
    (loading the suite and data, starting Ray, importing the flow) while the
    server boots. :meth:`use` then waits for ``/api/health`` and points this
    process's Prefect at it. The process carries ``PR_SET_PDEATHSIG`` (created
    from the main thread), so even a ``kill -9`` of ours takes it along; a
    normal exit stops it after Prefect's exit handlers have sent their logs.
    """

    started: ClassVar[list[TemporaryServer]] = []
    """Every one this process started, so a test session can tell whether one is still running."""

    def __init__(self, settings_env: dict[str, str] | None = None) -> None:
        """Spawn it now. ``settings_env``: the Prefect settings to hand it, where the caller knows them
        (``{}`` when the environment holds them all); by default this process's, which imports Prefect's settings."""
        if settings_env is None:
            from prefect.settings import get_current_settings

            settings_env = get_current_settings().to_environment_variables(exclude_unset=True)
        # What Prefect's own SubprocessASGIServer passes: this process's settings, no UI, ephemeral services only.
        self._env = {**os.environ, **settings_env, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
        self._env.pop("PREFECT_API_URL", None)
        # as `vigil serve`'s server: no usage heartbeat to Prefect (off-line, it logs a failed DNS lookup on the run's console); a user's own setting stands
        self._env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        self.started_at = time.perf_counter()
        self.ready_after_s: float | None = None
        self._spawn()
        TemporaryServer.started.append(self)
        atexit.register(self.stop)  # registered before Prefect's log and event workers exist, so it runs after their drains

    def _spawn(self) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--app-dir", str(_prefect_folder().parent), "--factory",
                   "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "error", "--lifespan", "on"]
        self.process = subprocess.Popen(command, env=self._env, preexec_fn=parent_death_signal())

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.process.poll() is None

    @property
    def api_url(self) -> str:
        """The API address this process uses once :meth:`use` returned."""
        return f"http://127.0.0.1:{self.port}/api"

    def use(self, timeout_s: float = 0.0) -> float:
        """Wait until the server answers ``/api/health``, then point this process's Prefect at it; returns the seconds waited.

        The address goes into ``PREFECT_API_URL`` of this process for the rest of
        its life (threads Prefect starts later read the process-wide settings).
        """
        from prefect.context import refresh_global_settings_context
        from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

        waited_from = time.perf_counter()
        timeout_s = timeout_s or max(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()), _EPHEMERAL_START_TIMEOUT_S)
        deadline = waited_from + timeout_s
        while not self._healthy():
            if self.process.poll() == _ADDRESS_IN_USE:  # the free port was taken between our check and uvicorn's bind
                self._spawn()
            elif self.process.poll() is not None:
                raise VigilError(f"prefect's temporary server: expected it running, got exit status {self.process.returncode} (its output is above)")
            if time.perf_counter() > deadline:
                self.stop()
                raise VigilError(f"prefect's temporary server: expected healthy within {timeout_s:.0f} s, got no answer")
            time.sleep(0.05)
        if self.ready_after_s is None:
            self.ready_after_s = time.perf_counter() - self.started_at
        os.environ["PREFECT_API_URL"] = self.api_url
        refresh_global_settings_context()
        return time.perf_counter() - waited_from

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def discard(self) -> None:
        """Kill it now if this process never used it (the run stopped before its flow); one in use is left to the exit handlers."""
        if self.ready_after_s is None:
            self.stop()

    def stop(self) -> None:
        """SIGTERM the server and wait for it (SIGKILL after 5 s), as Prefect stops its own.

        One never used (the run stopped first, e.g. on bad input) is killed at once: it holds nothing, and
        a server stopped while it boots would print its own traceback under the run's error.
        """
        if self.process.poll() is None and self.ready_after_s is None:
            self.process.kill()
            self.process.wait()
        elif self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def unwatched_flows() -> Iterator[None]:
    """Inside the block, flow runs send no heartbeat events: for runs on a temporary server, which dies with this process, so nothing could watch them.

    Prefect's heartbeat thread sleeps in 1 s steps and is joined as a flow run
    ends, so each run waited up to 1 s (0.5 s on average) for it to wake (issue 18).
    A server that outlives the run (``vigil serve``, ``PREFECT_API_URL``) keeps
    its heartbeats, as its settings say.
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


_ADDRESS_IN_USE = 3
"""uvicorn's exit status when its port is taken (Prefect's own server start retries on it too)."""


def start_temporary_server() -> TemporaryServer | None:
    """Spawn Prefect's temporary API server now, when this process will need one; call :meth:`TemporaryServer.use` before the flow.

    Returns None, and Prefect is left as configured, when ``PREFECT_API_URL`` names
    a server (``vigil serve``, a profile, the test harness), when the temporary
    server is disabled (``PREFECT_SERVER_EPHEMERAL_ENABLED=false``), or off the
    main thread of a Linux process (where the kernel could not tie the server's
    life to ours; Prefect then starts its own on first use).

    Where Prefect is not imported yet (so no setting was changed in this process, e.g.
    by a test harness's temporary settings) and no file could hold a Prefect setting
    (:func:`prefect_settings_files`), the environment decides, and the server is
    spawned without importing Prefect (1 to 2 s of CPU, paid later by the flow): a run
    calls this first, so the server boots beside every other start-up step.
    """
    if os.environ.get("PREFECT_API_URL"):  # decided without importing Prefect (2 s of CPU)
        return None
    if not main_thread_on_linux():
        return None
    if "prefect" not in sys.modules and not prefect_settings_files() and not _ENVIRONMENT_CHOOSES & os.environ.keys():
        return TemporaryServer(settings_env={})  # nothing in this process can have set a Prefect setting yet
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        return None
    return TemporaryServer()


_ENVIRONMENT_CHOOSES = {"PREFECT_PROFILE", "PREFECT_PROFILES_PATH", "PREFECT_SERVER_EPHEMERAL_ENABLED", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE",
                        "PREFECT_TEST_MODE", "PREFECT_UNIT_TEST_MODE"}
"""Variables that pick a profile or switch the temporary server: with one set, Prefect's own settings decide."""


def prefect_settings_files(cwd: Path | None = None, home: Path | None = None) -> list[Path]:
    """The files here that could set Prefect's API address or switch its temporary server (what Prefect 3 reads besides the environment).

    They are: ``.env`` and ``prefect.toml`` in the working folder, its
    ``pyproject.toml`` where it has a ``[tool.prefect]`` table, and the profiles
    file (``$PREFECT_HOME/profiles.toml``, by default ``~/.prefect/profiles.toml``)
    where its active profile names an API URL or turns the temporary server off.
    Conservative: a file listed here may set nothing that matters; then Prefect's
    settings are read to decide.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "profiles.toml").write_text('active = "local"\\n[profiles.local]\\nPREFECT_SERVER_ALLOW_EPHEMERAL_MODE = "true"\\n')
        >>> prefect_settings_files(folder, folder)
        []
        >>> _ = (folder / "profiles.toml").write_text('active = "team"\\n[profiles.team]\\nPREFECT_API_URL = "http://prefect:4200/api"\\n')
        >>> [p.name for p in prefect_settings_files(folder, folder)]
        ['profiles.toml']
    """
    cwd = cwd or Path.cwd()
    home = home or Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    found = [cwd / name for name in (".env", "prefect.toml") if (cwd / name).exists()]
    if "tool.prefect" in _text(cwd / "pyproject.toml"):
        found.append(cwd / "pyproject.toml")
    if _profile_chooses(home / "profiles.toml"):
        found.append(home / "profiles.toml")
    return found


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _profile_chooses(path: Path) -> bool:
    """Whether the active profile of a profiles file names an API URL or turns the temporary server off (or the file cannot be read as TOML)."""
    if not path.exists():
        return False
    try:
        profiles = tomllib.loads(_text(path))
        settings = profiles.get("profiles", {}).get(profiles.get("active", "ephemeral"), {})
    except (tomllib.TOMLDecodeError, AttributeError):
        return True
    if not isinstance(settings, dict):
        return True
    return any("API_URL" in key.upper() or ("EPHEMERAL" in key.upper() and str(value).strip().lower() not in ("true", "1"))
               for key, value in settings.items())


def _prefect_folder() -> Path:
    """Prefect's package folder, found without importing it."""
    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        raise VigilError("prefect: expected it installed (pip install prefect), got no package")
    return Path(next(iter(spec.submodule_search_locations)))


def start_ephemeral_server() -> str | None:
    """Start Prefect's temporary API server, wait until it answers and use it (see :func:`start_temporary_server`).

    Returns:
        The temporary server's API URL, or None when none was started.
    """
    server = start_temporary_server()
    if server is None:
        return None
    server.use()
    return server.api_url


_EPHEMERAL_START_TIMEOUT_S = 90
"""Prefect's default (20 s) is too short on a busy 2-core machine, where the server has taken 20 s to come up."""


def adopt_environment() -> None:
    """Re-read Prefect's settings and logging set-up from ``os.environ``, changed since Prefect was imported.

    A warm spare of ``vigil serve`` (:mod:`cli.warm`) imports Prefect before it
    knows its client; once it has taken the client's environment and terminal,
    this makes Prefect log at the client's level to the client's stderr.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.logging.configuration import setup_logging

    refresh_global_settings_context()
    setup_logging(incremental=False)


def preload_engine() -> None:
    """Import what Prefect imports on a process's first flow run (its flow and task engines), ahead of it."""
    import prefect.flow_engine  # noqa: F401
    import prefect.task_engine  # noqa: F401
