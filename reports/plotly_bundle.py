"""plotly.js, carried once per report, compressed, and the figures that use it.

Choice and why: the full ``plotly.min.js`` that the plotly package ships is
4.56 MB, and it was most of every report (4.6 MB). The report draws only
cartesian traces (bar, heatmap, scatter), so it carries plotly.js's own
*cartesian* bundle of the same version (``plotly.js-cartesian-dist-min`` 2.35.2,
1.36 MB; see ``static/README.md``), gzipped (446 kB) and base64-encoded
(594 kB) inside the file. The browser inflates it with its built-in
``DecompressionStream``, runs it, then draws each figure from its JSON. The
report stays one file that opens offline, at about an eighth of the size.

A figure is a ``<div>`` plus a ``<script type="application/json">`` holding
``{"data": …, "layout": …}``; nothing runs before the library is loaded.
"""

from __future__ import annotations

import base64
import functools
import html
from importlib import resources

import plotly.graph_objects as go

BUNDLE = "plotly-cartesian-2.35.2.min.js.gz"
"""The vendored library under ``reports/static/``."""

TRACE_TYPES = frozenset({"bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image",
                         "pie", "scatter", "scatterternary", "violin"})
"""The trace types the cartesian bundle can draw; :func:`figure_div` refuses others."""

_CONFIG = '{"displaylogo":false,"responsive":true}'
_LOADER = """<script>
(async function () {
  var packed = document.getElementById("vigil-plotly");
  if (!packed || typeof DecompressionStream === "undefined") { return; }
  var bytes = Uint8Array.from(atob(packed.textContent.trim()), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  var code = document.createElement("script");
  code.textContent = await new Response(stream).text();
  document.head.appendChild(code);
  document.querySelectorAll("script[data-figure]").forEach(function (node) {
    var fig = JSON.parse(node.textContent);
    Plotly.newPlot(node.getAttribute("data-figure"), fig.data, fig.layout, %s);
  });
})();
</script>""" % _CONFIG


@functools.cache
def packed_library() -> str:
    """The gzipped library, base64-encoded (read once per process)."""
    return base64.b64encode((resources.files("reports") / "static" / BUNDLE).read_bytes()).decode("ascii")


def figure_div(name: str, fig: go.Figure | None) -> str:
    """A chart's ``<div id="chart-<name>">`` and its figure JSON; empty without a figure.

    Raises:
        ValueError: When the figure uses a trace type outside the cartesian bundle.
    """
    if fig is None:
        return ""
    outside = {trace.type for trace in fig.data} - TRACE_TYPES
    if outside:
        raise ValueError(f"chart {name!r}: expected trace types the report's plotly bundle draws "
                         f"({', '.join(sorted(TRACE_TYPES))}), got {', '.join(sorted(outside))}")
    spec = fig.to_json().replace("</", "<\\/")  # a "</script>" inside a label must not end the tag
    height = int(fig.layout.height or 360)
    return (f'<div id="chart-{html.escape(name)}" class="chart" style="height:{height}px"></div>'
            f'<script type="application/json" data-figure="chart-{html.escape(name)}">{spec}</script>')


def library_scripts() -> str:
    """The packed library and its loader, once at the end of a report that has charts."""
    return f'<script id="vigil-plotly" type="application/gzip;base64">{packed_library()}</script>{_LOADER}'
