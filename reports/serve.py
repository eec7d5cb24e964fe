"""Committed runs' reports and artifacts, read-only over HTTP, so links in the Prefect UI open.

A browser will not follow a ``file://`` link from a page served over HTTP
(the Prefect UI), so the verdict artifact's links to the report and Evidently's
drift HTML went nowhere. ``vigil serve`` starts this server beside the Prefect
server and sets ``VIGIL_ARTIFACTS_URL``; the publish step then links
``<url>/runs/<run_id>/<file>`` instead of the file.

Only ``GET``/``HEAD`` of ``/runs/<run_id>/<file>`` are served: the run id must be
a valid one (:func:`suite.ids.is_run_id`), the file a plain name with a known
suffix directly in the run's folder (no sub-paths, no hidden files, nothing
outside ``runs/`` even through a link). There is no listing.

Example:
    >>> import tempfile, urllib.request
    >>> runs = Path(tempfile.mkdtemp())
    >>> (runs / "r1").mkdir(); _ = (runs / "r1" / "report.html").write_text("<p>hi</p>")
    >>> server = ArtifactServer(runs, port=0).start()
    >>> urllib.request.urlopen(f"{server.url}/runs/r1/report.html").read()
    b'<p>hi</p>'
    >>> server.stop()
"""

from __future__ import annotations

import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from suite.ids import is_run_id

ARTIFACTS_URL_ENV = "VIGIL_ARTIFACTS_URL"
"""Where ``vigil serve`` publishes the server's base URL for the flows it runs."""

SERVED_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".parquet": "application/octet-stream",
                ".csv": "text/csv; charset=utf-8", ".png": "image/png", ".txt": "text/plain; charset=utf-8"}
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}")


def http_link(uri: str, runs_dir: Path, base_url: str | None) -> str | None:
    """The HTTP address of a run artifact's ``file://`` URI, or None when it is not servable or no server runs.

    Example:
        >>> http_link("file:///v/runs/r1/report.html", Path("/v/runs"), "http://127.0.0.1:4201")
        'http://127.0.0.1:4201/runs/r1/report.html'
        >>> http_link("file:///elsewhere/report.html", Path("/v/runs"), "http://127.0.0.1:4201") is None
        True
    """
    if not base_url or not uri.startswith("file://"):
        return None
    try:
        relative = Path(unquote(urlsplit(uri).path)).relative_to(runs_dir)
    except ValueError:
        return None
    if len(relative.parts) != 2 or _resolve(runs_dir, "/".join(("runs", *relative.parts)), must_exist=False) is None:
        return None
    return f"{base_url.rstrip('/')}/runs/{relative.parts[0]}/{relative.parts[1]}"


def _resolve(runs_dir: Path, url_path: str, must_exist: bool = True) -> Path | None:
    """The file a request path names, or None when the path is not one this server serves."""
    parts = url_path.strip("/").split("/")
    if len(parts) != 3 or parts[0] != "runs" or not is_run_id(parts[1]) or not _NAME.fullmatch(parts[2]):
        return None
    if Path(parts[2]).suffix.lower() not in SERVED_TYPES:
        return None
    path = runs_dir / parts[1] / parts[2]
    if not must_exist:
        return path
    try:
        real = path.resolve(strict=True)
        real.relative_to(runs_dir.resolve())  # a symlink pointing out of runs/ is refused
    except (OSError, ValueError):
        return None
    return real if real.is_file() else None


class _Handler(BaseHTTPRequestHandler):
    runs_dir: Path
    server_version = "vigil-artifacts"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        path = _resolve(self.runs_dir, unquote(urlsplit(self.path).path))
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "not a run artifact: expected /runs/<run-id>/<file>")
            return
        data = path.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", SERVED_TYPES[path.suffix.lower()])
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        return None  # quiet: `vigil serve` prints the runner's output, not every page view


class ArtifactServer:
    """Serves ``runs_dir`` read-only on ``host:port`` from a background thread (``port=0``: any free port)."""

    def __init__(self, runs_dir: Path, host: str = "127.0.0.1", port: int = 4201) -> None:
        handler = type("Handler", (_Handler,), {"runs_dir": Path(runs_dir)})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="vigil-artifacts", daemon=True)

    @classmethod
    def bind(cls, runs_dir: Path, host: str, port: int) -> ArtifactServer:
        """A server on ``port``, or on any free port when that one is taken."""
        try:
            return cls(runs_dir, host, port)
        except OSError:
            return cls(runs_dir, host, 0)

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:4201``."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> ArtifactServer:
        """Start answering; returns self."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
