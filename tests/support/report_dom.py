"""What each chart of an HTML report (``engine/report_html``) shows once a browser ran it: read
from the DOM Chromium dumps. A chart *drew* when its section's plot holds a trace with at least
one drawn shape (an SVG path with a non-empty ``d``); an empty chart is a ``p.no-data`` line."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["ChartSeen", "charts_in"]

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class ChartSeen:
    """One ``section.chart``: its plot divs, SVG roots, traces, drawn shapes, no-data text."""

    plot_divs: int = 0
    svgs: int = 0
    traces: int = 0
    shapes: int = 0
    no_data: list[str] = field(default_factory=list)

    @property
    def drew(self) -> bool:
        return self.plot_divs == 1 and self.svgs >= 1 and self.traces >= 1 and self.shapes >= 1


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: dict[str, ChartSeen] = {}
        self._stack: list[tuple[str, str]] = []  # (tag, role: section/trace/no-data/"")
        self._section: str | None = None

    def _inside(self, role: str) -> bool:
        return any(r == role for _, r in self._stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        role = ""
        if tag == "section" and "chart" in classes and a.get("id", "").startswith("chart-"):
            self._section = a["id"].removeprefix("chart-")
            self.charts[self._section] = ChartSeen()
            role = "section"
        seen = self.charts.get(self._section or "")
        if seen is not None and self._inside("section"):
            if "plotly-graph-div" in classes:
                seen.plot_divs += 1
            if tag == "svg" and "main-svg" in classes:
                seen.svgs += 1
            if tag == "g" and "trace" in classes:
                seen.traces += 1
                role = "trace"
            if (
                tag == "path"
                and self._inside("trace")
                and a.get("d", "").strip() not in ("", "M0,0Z")
            ):
                seen.shapes += 1
            if tag == "p" and "no-data" in classes:
                seen.no_data.append("")
                role = "no-data"
        if tag not in _VOID:
            self._stack.append((tag, role))

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            open_tag, role = self._stack.pop()
            if role == "section":
                self._section = None
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._stack and self._stack[-1][1] == "no-data" and self._section is not None:
            self.charts[self._section].no_data[-1] += data


def charts_in(dom: str) -> dict[str, ChartSeen]:
    """Each chart section of the page by its id (``chart-<id>`` without the prefix)."""
    reader = _Reader()
    reader.feed(dom)
    reader.close()
    return reader.charts
