"""The self-contained page: sections' HTML, chart specs as inline JSON, uPlot and our
script inline. Nothing is fetched when the file is opened (no CDN, no fonts)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from fleetsignals.report.markup import esc

ASSETS = resources.files("fleetsignals.report") / "assets"
VENDORED = ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE")

# Collects errors (uncaught, console.error, failed loads) before any other script runs.
_ERROR_TRAP = """
window.__reportErrors = [];
(function () {
  function keep(text) {
    window.__reportErrors.push(String(text));
    if (window.__reportWriteStatus) window.__reportWriteStatus();
  }
  window.addEventListener("error", function (e) {
    keep(e.message ? e.message + " at " + (e.filename || "") + ":" + (e.lineno || "")
                   : "failed to load " + ((e.target && (e.target.src || e.target.href)) || "?"));
  }, true);
  window.addEventListener("unhandledrejection", function (e) { keep("unhandled: " + e.reason); });
  var original = console.error;
  console.error = function () {
    keep(Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
})();
"""


@dataclass
class Page:
    """Sections in order and the chart specs report.js draws."""

    title: str
    subtitle: str
    sections: list[tuple[str, str, str]] = field(default_factory=list)  # id, title, html
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def chart(self, chart_id: str, spec: dict[str, Any], caption: str = "") -> str:
        """Register a chart; returns the element report.js draws it into."""
        if chart_id in self.charts:
            raise ValueError(f"duplicate chart id {chart_id}")
        self.charts[chart_id] = spec
        title = f'<div class="chart-title">{esc(spec.get("title", ""))}</div>'
        caption_html = f'<div class="chart-caption">{esc(caption)}</div>' if caption else ""
        return (
            f'<figure class="chart-box">{title}<div class="chart" data-chart="{esc(chart_id)}">'
            f"</div>{caption_html}</figure>"
        )

    def add(self, section_id: str, title: str, body: str) -> None:
        self.sections.append((section_id, title, body))

    def render(self) -> str:
        nav = "".join(f'<a href="#{esc(i)}">{esc(t)}</a>' for i, t, _ in self.sections)
        body = "".join(
            f'<section id="{esc(i)}"><h2>{esc(t)}</h2>{html}</section>'
            for i, t, html in self.sections
        )
        data = _script_json({"charts": self.charts})
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="fleetsignals report">
<title>{esc(self.title)}</title>
<script>{_ERROR_TRAP}</script>
<style>{_asset("uPlot.min.css")}</style>
<style>{_asset("report.css")}</style>
</head>
<body>
<header><h1>{esc(self.title)}</h1><p class="subtitle">{esc(self.subtitle)}</p>
<nav>{nav}</nav></header>
<main>{body}</main>
<footer>Charts drawn with uPlot 1.6.32 (MIT licence, embedded; text below).
<details><summary>uPlot licence</summary><pre>{esc(_asset("uPlot.LICENSE"))}</pre></details>
</footer>
<pre id="report-status" hidden></pre>
<script type="application/json" id="report-data">{data}</script>
<script>{_asset("uPlot.iife.min.js")}</script>
<script>{_asset("report.js")}</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    text = (ASSETS / name).read_text(encoding="utf-8")
    # An inline script or style ends at the first "</script" or "</style", whatever its
    # context: a vendored file containing one would break the page, so refuse it.
    if "</script" in text.lower() or "</style" in text.lower():
        raise ValueError(f"asset {name} contains a closing tag and cannot be inlined")
    return text


def _script_json(value: Any) -> str:
    """JSON safe inside <script>: '<' escaped so no "</script>" can end it early."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
