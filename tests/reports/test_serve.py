"""Run artifacts over HTTP: what the verdict artifact links to, served read-only and nothing else."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports.serve import ArtifactServer, http_link


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[ArtifactServer, Path]]:
    runs = tmp_path / "runs"
    (runs / "digits-1").mkdir(parents=True)
    (runs / "digits-1" / "report.html").write_text("<h1>FAIL</h1>")
    (runs / "digits-1" / ".report.html.tmp").write_text("partial")
    (runs / "digits-1" / "notes.sh").write_text("rm -rf /")
    (tmp_path / "index.db").write_text("secret")
    os.symlink(tmp_path / "index.db", runs / "digits-1" / "escape.html")
    server = ArtifactServer(runs, port=0).start()
    try:
        yield server, runs
    finally:
        server.stop()


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, "", ""


def test_a_run_report_is_served_as_html(served: tuple[ArtifactServer, Path]) -> None:
    server, _ = served
    assert _get(f"{server.url}/runs/digits-1/report.html") == (200, "text/html; charset=utf-8", "<h1>FAIL</h1>")


@pytest.mark.parametrize("path", [
    "/runs/digits-1/.report.html.tmp",  # hidden (a report being written)
    "/runs/digits-1/notes.sh",  # not an artifact type
    "/runs/digits-1/escape.html",  # a link out of runs/
    "/runs/../index.db", "/runs/digits-1/../../index.db", "/runs/digits-1/%2e%2e/%2e%2e/index.db",
    "/index.db", "/runs/digits-1/", "/runs/digits-1/missing.html", "/",
])
def test_nothing_else_is_served(served: tuple[ArtifactServer, Path], path: str) -> None:
    server, _ = served
    assert _get(server.url + path)[0] == 404


def test_file_uris_under_runs_map_to_http_links(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    uri = (runs / "digits-1" / "report.html").as_uri()
    assert http_link(uri, runs, "http://127.0.0.1:4201/") == "http://127.0.0.1:4201/runs/digits-1/report.html"
    assert http_link(uri, runs, None) is None  # no server: no link
    assert http_link((tmp_path / "report.html").as_uri(), runs, "http://h") is None
    assert http_link((runs / "digits-1" / "sub" / "x.html").as_uri(), runs, "http://h") is None


def test_a_taken_port_falls_back_to_a_free_one(tmp_path: Path) -> None:
    first = ArtifactServer(tmp_path, port=0)
    second = ArtifactServer.bind(tmp_path, "127.0.0.1", first.port)
    try:
        assert second.port not in (0, first.port)
    finally:
        for s in (first, second):
            s.httpd.server_close()
