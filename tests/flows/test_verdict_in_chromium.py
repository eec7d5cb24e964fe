"""In real Chromium: the verdict artifact's page in the Prefect UI, its report link opened over HTTP, and the report's fixed sections."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from flows.server import PrefectServer
from pipeline.evaluate.summary import headline_table, verdict_markdown
from reports import render_report
from reports.serve import ArtifactServer, http_link
from storage.records import ArtifactRecord
from tests.conftest import require
from tests.flows.test_publish_markdown import DECISION, PLAN
from tests.orchestration.conftest import api, free_port
from tests.reports.sample import report_data, results
from tests.reports.test_sections import _drift_table, _regions

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", "--window-size=1400,1600",
             "--virtual-time-budget=20000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.mark.chromium
def test_verdict_artifact_links_open_the_report_over_http(tmp_path: Path) -> None:
    require(Path(CHROMIUM).is_file(), "Debian's chromium is not installed (apt-get install -y chromium)")
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    runs = tmp_path / "vigil" / "runs"
    folder = runs / PLAN.run_id
    folder.mkdir(parents=True)
    # regressions and improvements mixed: the section must list only the former
    data = report_data(worst_regions=_regions([0.04, -0.02, 0.01, -0.05]), drift=_drift_table(windows=3))
    (folder / "report.html").write_text(render_report(data), encoding="utf-8")
    report = ArtifactRecord(kind="report", uri=(folder / "report.html").as_uri(), description="the run's report")
    artifacts = ArtifactServer(runs, port=0).start()
    prefect = PrefectServer(tmp_path / "prefect", port=free_port())
    try:
        prefect.start(timeout_s=300)  # a busy CI machine has taken more than the default 90 s
        link = http_link(report.uri, runs, artifacts.url)
        assert link is not None
        markdown = verdict_markdown(PLAN, DECISION, [report], headline_table(results()), links={report.uri: link})
        created = api(prefect.api_url, "/artifacts/", {"key": "vigil-digits-verdict", "type": "markdown", "data": markdown})
        page = f"{prefect.api_url.removesuffix('/api')}/artifacts/artifact/{created['id']}"
        for attempt in range(3):  # on a loaded machine the UI's first load can outlast the virtual-time budget
            dom = _chromium(["--dump-dom", page], tmp_path / f"p1-{attempt}")
            assert dom.returncode == 0, dom.stderr[-2000:]
            if "Vigil verdict:" in dom.stdout:
                break
        (out / "prefect-verdict-artifact.html").write_text(dom.stdout)
        assert "Vigil verdict:" in dom.stdout and "PASS" in dom.stdout, "the artifact page did not render the markdown"
        assert f'href="{link}"' in dom.stdout, "the report link is not an http link on the artifact page"
        assert "✅" not in dom.stdout and "file://" not in dom.stdout
        shot = _chromium([f"--screenshot={out / 'prefect-verdict-artifact.png'}", page], tmp_path / "p2")
        assert shot.returncode == 0 and (out / "prefect-verdict-artifact.png").stat().st_size > 10_000

        opened = _chromium(["--dump-dom", link], tmp_path / "p3")  # the link, opened as the operator's browser would
        assert opened.returncode == 0, opened.stderr[-2000:]
        shot = _chromium([f"--screenshot={out / 'report-over-http.png'}", "--window-size=1400,6000", link], tmp_path / "p4")
        assert shot.returncode == 0
    finally:
        prefect.stop()
        artifacts.stop()
    html = opened.stdout
    assert '<div class="word" id="verdict">FAIL</div>' in html
    worse = re.search(r'<section id="errors">(.*?)</section>', html, re.S).group(1)
    assert re.findall(r'<tr><td class="">label</td><td class="">(\d)</td>', worse) == ["0", "2"]  # regressions only
    drift = re.search(r'<section id="drift">(.*?)</section>', html, re.S).group(1)
    assert 'id="chart-drift"' in drift and 'id="chart-drift-windows"' in drift
    assert drift.count('class="main-svg"') >= 2, "plotly did not draw the drift charts"
    assert "<dl class=\"prov\">" in html and "<details>" in html
