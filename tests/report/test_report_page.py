"""The page itself: vendored uPlot intact, hostile labels inert, nothing external."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from fleetsignals.report.markup import note, table
from fleetsignals.report.page import ASSETS, Page
from fleetsignals.report.runs import fold_sequence
from tests.fixtures.reportbrowser import chart_specs, render

# npm uplot@1.6.32 (dist/uPlot.iife.min.js, dist/uPlot.min.css, LICENSE), unmodified.
VENDORED_SHA256 = {
    "uPlot.iife.min.js": "19c8d4c6ad88929a79f4ae49d6f7161566dfd0ba3d15cc495e974f787eb78f1f",
    "uPlot.min.css": "df630c6a8d6f8eeaff264b50f73ce5b114f646ffd9a0bb74f049b0a00135fa04",
    "uPlot.LICENSE": "8f989229699b4fe2f1a0432d0e9edc338a8a911e250e2d1b01ecd770a5f5b1bd",
}
HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="__pwned=2">'


def test_vendored_uplot_is_the_published_release() -> None:
    for name, digest in VENDORED_SHA256.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (ASSETS / "uPlot.LICENSE").read_text(encoding="utf-8")


def hostile_page() -> str:
    page = Page(HOSTILE, HOSTILE)
    body = page.chart(
        "bars",
        {"kind": "bars", "title": HOSTILE, "labels": [HOSTILE, "b"],
         "series": [{"label": HOSTILE, "values": [2.0, 1.0], "color": "#0072b2", "fmt": "usd"}]},
    )  # fmt: skip
    body += page.chart(
        "time",
        {"kind": "time", "title": "t", "x": [0, 300, 600],
         "series": [{"label": HOSTILE, "values": [1.0, None, 3.0], "color": "#e69f00",
                     "fmt": "num"}],
         "bands": [{"from": 0, "to": 300, "label": HOSTILE, "color": "#d55e0040"}]},
    )  # fmt: skip
    body += table(["a"], [[HOSTILE]]) + note(HOSTILE)
    page.add("s", HOSTILE, body)
    return page.render()


def test_labels_from_traces_cannot_break_out(chromium: str, tmp_path: Path) -> None:
    """Dimension values come from span attributes: they must stay text."""
    out = tmp_path / "hostile.html"
    out.write_text(hostile_page(), encoding="utf-8")
    text = out.read_text(encoding="utf-8")
    assert "window.__pwned = 1</script>" not in text
    assert chart_specs(out)["bars"]["labels"][0] == HOSTILE  # survives as data
    rendered = render(chromium, out, tmp_path)
    assert rendered.status["errors"] == [] and rendered.console == []
    assert rendered.status["resources"] == 0  # an injected <img src=x> would be fetched
    # The DOM has exactly the page's own scripts (error trap, data, uPlot, report.js) and
    # no injected element: the hostile text shows escaped.
    assert len(re.findall(r"<script", rendered.dom)) == 4
    assert "<img" not in rendered.dom and "&lt;img src=x" in rendered.dom
    assert [c["drawn"] for c in rendered.status["charts"]] == [True, True]


def test_nothing_external() -> None:
    text = hostile_page()
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", text, re.I)
    assert "@import" not in text and "url(http" not in text


def test_repeats_fold_into_counts() -> None:
    calls = [
        {"tool_name": "search", "is_error": False},
        {"tool_name": "search", "is_error": True},
        {"tool_name": "search", "is_error": False},
        {"tool_name": "fetch", "is_error": False},
        {"tool_name": "search", "is_error": False},
    ]
    assert fold_sequence(calls) == [
        {"tool": "search", "count": 3, "errors": 1},
        {"tool": "fetch", "count": 1, "errors": 0},
        {"tool": "search", "count": 1, "errors": 0},
    ]
    many = [{"tool_name": f"t{i % 2}", "is_error": False} for i in range(100)]
    folded = fold_sequence(many)
    assert len(folded) == 41 and folded[-1]["tool"] == "… 60 more calls"


def test_the_checks_catch_a_fetch_and_an_error(chromium: str, tmp_path: Path) -> None:
    """The status the render tests rely on does report a page that fetches or fails."""
    page = Page("t", "t")
    body = page.chart(
        "ok",
        {"kind": "bars", "title": "ok", "labels": ["a"],
         "series": [{"label": "v", "values": [1.0], "color": "#0072b2", "fmt": "int"}]},
    )  # fmt: skip
    body += '<img src="https://cdn.example.com/x.png"><script>console.error("boom")</script>'
    page.add("s", "s", body)
    out = tmp_path / "leaky.html"
    out.write_text(page.render(), encoding="utf-8")
    rendered = render(chromium, out, tmp_path)
    assert rendered.status["resources"] == 1
    assert "boom" in rendered.status["errors"]
    assert any(
        "failed to load https://cdn.example.com/x.png" in e for e in rendered.status["errors"]
    )
    assert any('"boom"' in line for line in rendered.console)
