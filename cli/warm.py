"""Warm runs: ``vigil run`` handed to a spare process of a running ``vigil serve``.

Why: a ``vigil run`` pays ~2-3 s of imports (Prefect, pandas, the pipeline) and
3-5 s starting a local Ray before its flow begins (issue 18). ``vigil serve``
keeps one *spare* ready: a process started with serve's environment that has
imported the run path and joined serve's Ray (:func:`pipeline.cluster.join`).
A ``vigil run`` whose settings agree with serve's forwards its command to the
spare and waits; the spare runs it in-process on the client's terminal.

The parts:

* ``$VIGIL_HOME/serve/serve.json`` names a live serve: its pid, the socket,
  its Prefect API, Ray address and index (:class:`cli.forward.ServeInfo`); written by serve,
  removed when it stops.
* :class:`SpareKeeper` (in serve): owns the listening Unix socket, starts a
  spare with the socket passed down (``pass_fds``), and starts the next one as
  soon as the current one says it was taken (one byte on a pipe). Spares are
  separate processes started with ``exec``: serve itself (a Prefect runner with
  threads and an event loop) is never forked.
* :func:`serve_spare` (the spare, ``python -m cli.warm LISTEN_FD TAKEN_FD``):
  accepts one connection, closes its copy of the listener, signals ``taken``,
  then serves that one request and exits.
* :func:`cli.forward.forward` (the client, from :func:`cli.main.main` before anything heavy
  is imported): returns the command's exit code, or None to run locally.

Protocol, over the Unix socket: the client sends one byte carrying its fds 0, 1
and 2 (``SCM_RIGHTS``), then one JSON line ``{"argv", "cwd", "env", "started"}``
(``started``: its process start, epoch seconds). The spare answers
``{"pid": N}`` once it holds the terminal, and ``{"exit": CODE}`` when the
command is done (after the process's exit handlers, so Prefect's logs are sent
first). A client's SIGINT, SIGTERM or SIGHUP is passed on to that pid; a client
that goes away interrupts the spare's run (SIGINT, as ^C would).
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from cli.forward import ServeInfo

RAY_JOIN_ENV = ("VIGIL_RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH")
"""What serve exports so its flow runs and spares join its Ray (also set over a forwarded client's environment)."""


# ---- serve's side -----------------------------------------------------------------------------
class SpareKeeper:
    """Keeps one warm spare waiting on ``run.sock`` for ``vigil serve``'s lifetime; ``start`` it, ``stop`` it.

    Args:
        folder: ``$VIGIL_HOME/serve``.
        info: what ``serve.json`` will say (its ``socket`` is filled in by :meth:`start`).
    """

    def __init__(self, folder: Path, info: ServeInfo) -> None:
        self.folder, self.info = folder, info
        self._stopping = threading.Event()
        self._spares: list[subprocess.Popen[bytes]] = []
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._short_dir: Path | None = None

    def _socket_path(self) -> Path:
        path = self.folder / "run.sock"
        if len(str(path)) < 100:  # a Unix socket's path is capped at 107 bytes
            return path
        self._short_dir = Path(tempfile.mkdtemp(prefix="vsrv", dir="/tmp"))
        return self._short_dir / "run.sock"

    def start(self) -> SpareKeeper:
        """Listen on the socket, start the first spare, then write ``serve.json``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        path = self._socket_path()
        path.unlink(missing_ok=True)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        os.chmod(path, 0o600)
        self._listener.listen(16)
        self.info = ServeInfo(**{**asdict(self.info), "socket": str(path)})
        self._thread = threading.Thread(target=self._keep, name="vigil-spares", daemon=True)
        self._thread.start()  # it starts the spares: they die when it ends (PR_SET_PDEATHSIG), so it lives as long as serve
        self.info.write(self.folder)
        return self

    def _spawn(self, fd: int, taken_w: int) -> subprocess.Popen[bytes]:
        """A spare listening on ``fd`` that writes one byte to ``taken_w`` when a client takes it."""
        from suite.processes import dies_with_this_thread

        with (self.folder / "spare.log").open("ab") as log:
            return subprocess.Popen([sys.executable, "-m", "cli.warm", str(fd), str(taken_w)], pass_fds=(fd, taken_w),
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=dies_with_this_thread())

    def _keep(self) -> None:
        failures, fd = 0, self._listener.fileno() if self._listener is not None else -1
        while not self._stopping.is_set():
            taken_r, taken_w = os.pipe()
            spare = self._spawn(fd, taken_w)
            os.close(taken_w)
            self._spares.append(spare)
            taken = self._wait_taken(taken_r)
            os.close(taken_r)
            if taken:
                failures = 0
                with (self.folder / "spare.log").open("a") as log:
                    log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} spare {spare.pid} took a run\n")
                continue
            if self._stopping.is_set():
                break
            failures += 1
            if failures >= 5:  # a spare that cannot start (see spare.log): clients run locally again
                self._withdraw()
                break
            self._stopping.wait(min(2.0**failures, 30.0))

    def _wait_taken(self, taken_r: int) -> bool:
        """Wait for the spare's byte (taken: True) or its end (EOF: False), reaping finished spares meanwhile."""
        while True:
            ready, _, _ = select.select([taken_r], [], [], 1.0)
            self._spares = [s for s in self._spares if s.poll() is None]
            if ready:
                return os.read(taken_r, 1) == b"1"

    def _withdraw(self) -> None:
        """Remove ``serve.json`` (if it is still ours) and the socket, so clients run locally."""
        current = ServeInfo.read(self.folder)
        if current is not None and current.pid == self.info.pid:
            (self.folder / "serve.json").unlink(missing_ok=True)
        if self._listener is not None:
            self._listener.close()
            Path(self.info.socket).unlink(missing_ok=True)
        if self._short_dir is not None:
            self._short_dir.rmdir()
            self._short_dir = None

    def stop(self, grace_s: float = 5.0) -> None:
        """Withdraw, stop every spare (a running one's client sees its run end), and wait for the keeper thread."""
        self._stopping.set()
        self._withdraw()
        spares = list(self._spares)
        for spare in spares:
            if spare.poll() is None:
                spare.terminate()
        deadline = time.monotonic() + grace_s
        for spare in spares:
            try:
                spare.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                spare.kill()
                spare.wait(5)
        if self._thread is not None:
            self._thread.join(5)


# ---- the spare --------------------------------------------------------------------------------
def _warm_up() -> None:
    """Import what ``vigil run`` imports before its flow starts, and join serve's Ray."""
    import cli.main  # noqa: F401 - the app, as the console script loads it
    import cli.render  # noqa: F401
    import flows.evaluate  # noqa: F401 - Prefect, the flow and its tasks
    import flows.progress  # noqa: F401
    import pipeline.commit  # noqa: F401
    import pipeline.evaluate.fingerprint  # noqa: F401
    import pipeline.evaluate.prepare  # noqa: F401
    import pipeline.progress  # noqa: F401
    from flows.server import preload_engine
    from pipeline.cluster import join

    preload_engine()
    join(os.environ["VIGIL_RAY_ADDRESS"])


def _take_terminal(conn: socket.socket) -> dict:  # type: ignore[type-arg]
    """Receive the client's fds and request; put its fds on 0, 1, 2 and its cwd and environment on this process."""
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    request = json.loads(conn.makefile("rb").readline())
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    if sys.stdout.isatty():
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    os.chdir(request["cwd"])
    served = {k: os.environ[k] for k in ("PREFECT_API_URL", *RAY_JOIN_ENV) if k in os.environ}
    os.environ.clear()
    os.environ.update({**request["env"], **served})
    return request


def _interrupt_when_client_leaves(conn: socket.socket, done: threading.Event) -> None:
    """SIGINT this process (as ^C would) if the client hangs up before the command finished."""
    def watch() -> None:
        try:
            while conn.recv(1):
                pass
        except OSError:
            pass
        if not done.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="client-watch", daemon=True).start()


def serve_spare(listen_fd: int, taken_fd: int) -> int:
    """Warm up, accept one client on ``listen_fd``, say so on ``taken_fd``, run its command; returns its exit code."""
    status: dict[str, int] = {}
    done = threading.Event()
    reply: list[socket.socket] = []

    def send_exit() -> None:  # registered first, so it runs after every other exit handler (Prefect's log drains)
        if reply and "exit" in status:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            try:
                reply[0].sendall(json.dumps({"exit": status["exit"]}).encode() + b"\n")
            except OSError:
                pass

    atexit.register(send_exit)
    # serve may run with SIGINT ignored (nohup, a background job), and exec keeps that: a client's ^C must still interrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _warm_up()
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} spare {os.getpid()} ready", file=sys.stderr, flush=True)  # still serve/spare.log
    listener = socket.socket(fileno=listen_fd)
    conn, _ = listener.accept()
    listener.close()
    os.write(taken_fd, b"1")
    os.close(taken_fd)
    conn.settimeout(10)
    request = _take_terminal(conn)
    conn.settimeout(None)
    reply.append(conn)
    conn.sendall(json.dumps({"pid": os.getpid()}).encode() + b"\n")
    _interrupt_when_client_leaves(conn, done)

    from cli.common import quiet_prefect
    from cli.leave import exit_status
    from cli.main import main
    from cli.render import reattach_consoles
    from cli.startup import forwarded
    from flows.server import adopt_environment

    quiet_prefect(bool({"--verbose", "-v"} & set(request["argv"])))
    adopt_environment()
    reattach_consoles()
    forwarded(float(request["started"]), os.getppid())
    sys.argv = ["vigil", *request["argv"]]
    try:
        main(forwarding=False)
        code = 0
    except SystemExit as exc:
        code = exit_status(exc.code)
    finally:
        done.set()
    status["exit"] = code
    return code


if __name__ == "__main__":
    sys.exit(serve_spare(int(sys.argv[1]), int(sys.argv[2])))
