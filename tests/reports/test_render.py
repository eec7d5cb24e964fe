"""The report is one self-contained file, and it renders in a real headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import pandas as pd
import pytest

from reports import render_report
from tests.reports.sample import report_data

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)


def test_report_is_self_contained_with_plotly_carried_once() -> None:
    page = render_report(report_data())
    assert page.startswith("<!DOCTYPE html>") and page.count("</html>") == 1
    assert page.count('<script id="vigil-plotly"') == 1  # the library, compressed, exactly once
    tags = re.findall(r"<script\b[^>]*>", page)
    assert len(tags) >= 5 and not any("src=" in tag for tag in tags)  # nothing fetched from elsewhere
    for chart in ("metrics", "slices", "robustness", "history"):
        assert f'id="chart-{chart}"' in page
    assert page.index("id='verdict'") < page.index('id="gates"') < page.index('id="provenance"')
    assert ">FAIL<" in page and "drop 0.03 &gt; 0.01 and significant" in page
    assert "2 of 6</b> monitored columns drifted" in page


def test_sections_without_data_are_left_out() -> None:
    data = report_data(drift=None, history=None, worst_regions=None, newly_wrong=None, verdict="pass",
                       outcomes=pd.DataFrame(columns=["status"]))
    page = render_report(data)
    assert 'id="drift"' not in page and 'id="history"' not in page and 'id="errors"' not in page
    assert "This suite has no gates." in page and ">PASS<" in page


def test_metric_table_says_which_interval_method_was_used() -> None:
    results = report_data().results
    large = (results["slice"] == "all") & (results["metric"] == "accuracy") & (results["model"] == "mlp-v2")
    with_method = results.assign(ci_method="bootstrap")
    with_method.loc[large, "ci_method"] = "bootstrap-cells"
    page = render_report(report_data(results=with_method))
    assert "<th>CI method</th>" in page
    table = page[page.index("Whole set, clean inputs"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table)
    accuracy = next(r for r in rows if ">accuracy<" in r)
    log_loss = next(r for r in rows if ">log_loss<" in r)
    assert accuracy.endswith("<td class=''>bootstrap, bootstrap-cells</td>")
    assert log_loss.endswith("<td class=''>bootstrap</td>")
    assert "<th>CI method</th>" not in render_report(report_data())  # results without the column: no column


def test_same_data_renders_the_same_page() -> None:
    assert render_report(report_data()) == render_report(report_data())


def _png_pixels(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG into rows of raw pixel bytes (no imaging library on the machine)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6)
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
    for y in range(height):
        filt, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, ul = prev[i], prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + left) & 255
            elif filt == 2:
                line[i] = (line[i] + up) & 255
            elif filt == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif filt == 4:
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else ul)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


@pytest.mark.chromium
def test_report_renders_in_headless_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required on CI: apt-get install -y chromium")
        pytest.skip("chromium not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(render_report(report_data()), encoding="utf-8")
        shot = ARTIFACTS / "report.png"
        shot.unlink(missing_ok=True)

        def chromium(*extra: str) -> subprocess.CompletedProcess[str]:
            profile = tempfile.mkdtemp(dir=tmp)
            flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}", "--virtual-time-budget=15000"]
            size = [] if any(e.startswith("--window-size") for e in extra) else ["--window-size=1400,900"]
            return subprocess.run([CHROMIUM, *flags, *size, *extra, page.as_uri()], capture_output=True, text=True,
                                  timeout=120, check=False)

        done = chromium(f"--screenshot={shot}")
        assert done.returncode == 0, done.stderr[-2000:]
        whole = ARTIFACTS / "report-full.png"  # the whole page, for people reviewing the layout
        assert chromium("--window-size=1400,5200", f"--screenshot={whole}").returncode == 0
        dom = chromium("--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]

    width, height, channels, rows = _png_pixels(shot)
    assert (width, height) == (1400, 900)
    banner = rows[40][20 * channels : 20 * channels + 3]
    assert tuple(banner) == (0xB9, 0x1C, 0x1C)  # the FAIL banner's red, top left
    colours = {row[i : i + 3] for row in rows[::7] for i in range(0, width * channels, 7 * channels)}
    assert len(colours) > 50  # text, badges and charts, not a blank page

    html_dom = dom.stdout
    assert '<div class="word" id="verdict">FAIL</div>' in html_dom
    for chart in ("metrics", "slices", "robustness", "history"):
        assert f'id="chart-{chart}"' in html_dom
    # plotly.js ran: every chart div got its SVG drawn.
    assert html_dom.count('class="main-svg"') >= 5
    assert 'id="chart-drift"' in html_dom and html_dom.count("js-plotly-plot") >= 5
