"""One self-contained HTML page for a trace: a collapsible waterfall with its findings.

The page fetches nothing (a Content-Security-Policy forbids it outright) and trusts nothing
from the logs: every data string is HTML-escaped in the markup, the span details travel as
JSON with `<`, `>` and `&` escaped, and the script shows them with `textContent` only. Its
single inline script is allowed by hash, so even markup that slipped in could not run.
The stylesheet and script ship in the package (`assets/`) and are inlined, so the page
works as a file attached to a bug report, and `serve` sends the very same page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from functools import cache
from html import escape
from importlib import resources
from typing import Any

from traced_http.viewer.analysis import Analysis, analyse, key_of
from traced_http.viewer.render_json import span_data
from traced_http.viewer.sanitize import clean
from traced_http.viewer.spans import Span
from traced_http.viewer.times import format_ms, format_time
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode

PALETTE = 8


@cache
def asset(name: str) -> str:
    """The text of a file shipped in `traced_http/viewer/assets`."""
    return (
        resources.files("traced_http.viewer").joinpath("assets").joinpath(name).read_text("utf-8")
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_ESCAPED = re.compile(
    "[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def safe(text: str) -> str:
    """A log string as HTML text: controls and bidi marks shown as visible escapes (as on
    the terminal), lone surrogates (which UTF-8 cannot carry) replaced, markup escaped."""
    return escape(_SURROGATE.sub("\ufffd", clean(text)))


def json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> element or open markup inside it.

    Lone surrogates travel as `\\udXXX` escapes, which JSON allows and UTF-8 could not carry;
    so do line separators (not line ends to JavaScript of old) and bidi and C1 controls, so
    the page source reads as it means.
    """
    text = json.dumps(data, ensure_ascii=False, default=str)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return _JSON_ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def script_hash(source: str) -> str:
    """The CSP source that allows exactly this inline script."""
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def page_policy(scripts: tuple[str, ...] = ()) -> str:
    """The Content-Security-Policy of every viewer page: nothing fetched, listed scripts only."""
    allowed = " ".join(script_hash(s) for s in scripts) or "'none'"
    return (
        f"default-src 'none'; script-src {allowed}; style-src 'unsafe-inline'; "
        "img-src 'none'; form-action 'self'; base-uri 'none'"
    )


def html_page(title: str, body: str, scripts: tuple[str, ...] = ()) -> str:
    """A whole viewer page: the head every page shares (its policy allows exactly
    `scripts`), `body` (HTML), then `scripts` inline. `title` is text, escaped here."""
    inline = "".join(f"<script>{script}</script>\n" for script in scripts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(page_policy(scripts))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{safe(title)}</title>
<style>{asset("viewer.css")}</style>
</head>
<body>
{body}
{inline}</body>
</html>
"""


def colour_class(services: list[str], service: str) -> str:
    """The palette class of a service: its place in `services`, so colours follow the legend."""
    index = services.index(service) if service in services else len(services)
    return f"svc{index % PALETTE}"


def nice_step(length: float, wanted: int = 6) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about `wanted` ticks."""
    if length <= 0 or not math.isfinite(length):
        return 1.0
    raw = length / wanted
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def tick_label(seconds: float) -> str:
    """An axis label: `0 ms`, `50 ms`, `2.5 ms`, `1.5 s`."""
    if seconds >= 1.0:
        return f"{round(seconds, 6):g} s"
    return f"{round(seconds * 1000.0, 6):g} ms"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _status_text(span: Span) -> str:
    status = "" if span.status is None else str(span.status)
    if span.error is not None:
        status = (status + " " if status else "") + "error"
    elif not status and span.has_start and not span.has_end:
        status = "no end"
    return status


class _Page:
    """Collects the rows of the waterfall table and the details data behind them."""

    def __init__(self, trace: Trace, analysis: Analysis) -> None:
        self.trace = trace
        self.analysis = analysis
        self.start = trace.start if trace.start is not None else 0.0
        self.length = max((trace.end or self.start) - self.start, 1e-9)
        self.rows: list[str] = []
        self.details: list[dict[str, Any]] = []
        self.index_of: dict[tuple[str, str], int] = {}

    def percent(self, time: float) -> float:
        return max(0.0, min(100.0, (time - self.start) / self.length * 100.0))

    def _finding(self, node: SpanNode) -> tuple[str, str]:
        """The badge of a span and the sentence behind it."""
        key = key_of(node.span)
        cause = self.analysis.root_cause
        if cause is not None and key == key_of(cause.span):
            return '<span class="badge cause">root cause</span>', "the failure began here"
        if key in self.analysis.caused:
            return (
                '<span class="badge because">failed downstream</span>',
                "failed because a span it waited on failed",
            )
        if key in self.analysis.retried_away:
            return (
                '<span class="badge retried">retried</span>',
                "this attempt failed and was retried",
            )
        if key in self.analysis.origins:
            return '<span class="badge because">failed here</span>', "a failure began here"
        return "", ""

    def _bar(self, span: Span, hop_text: str) -> str:
        if span.start is None:
            return ""
        left = self.percent(span.start)
        end = span.end
        right = self.percent(end) if end is not None else 100.0
        classes = ["bar", colour_class(self.trace.services, span.service)]
        classes += ["failed"] if span.failed else []
        classes += ["open"] if end is None else []
        label = format_ms(span.duration) if span.duration is not None else "no end"
        label += hop_text
        # The duration goes right of the bar, else left of it, else inside a long bar.
        if right <= 60:
            where, inside = f"left:calc({right:.3f}% + 4px)", ""
        elif left >= 30:
            where, inside = f"right:calc({100 - left:.3f}% + 4px)", ""
        else:
            where, inside = f"left:calc({left:.3f}% + 4px)", " in"
        return (
            f'<div class="{" ".join(classes)}" '
            f'style="left:{left:.3f}%;width:{max(right - left, 0.2):.3f}%"></div>'
            f'<span class="dur{inside}" style="{where}">{escape(label)}</span>'
        )

    def add_span(self, node: SpanNode, parent: int, prefix: str) -> int:
        span = node.span
        key = key_of(span)
        index = len(self.details)
        self.index_of[key] = index
        badge, finding = self._finding(node)
        hop = self.analysis.hops.get(key)
        self_time = self.analysis.self_time.get(key)
        data = span_data(span, node.orphan)
        data.update(
            parent=parent,
            service_index=str(self.trace.services.index(span.service))
            if span.service in self.trace.services
            else "",
            children=len(node.children),
            failed=span.failed,
            finding=finding or None,
            critical=key in self.analysis.critical,
            self_ms=_ms(self_time),
            children_ms=_ms(span.duration - self_time)
            if span.duration is not None and self_time is not None
            else None,
            hop=None
            if hop is None
            else {
                "client_ms": _ms(hop.client),
                "server_ms": _ms(hop.server),
                "gap_ms": _ms(hop.gap),
                "attempts": hop.attempts,
                "retry_ms": _ms(hop.retry_cost),
            },
        )
        self.details.append(data)
        notes = []
        if hop is not None and hop.gap is not None:
            notes.append(f"gap {format_ms(hop.gap)}")
        if hop is not None and hop.attempts > 1:
            notes.append(f"{hop.attempts} attempts")
        hop_text = f" ({', '.join(notes)})" if notes else ""
        marks = "".join(
            f'<div class="mark{" retry" if a.kind == "retry" else ""}" '
            f'title="{safe(a.name)}" style="left:{self.percent(a.time):.3f}%"></div>'
            for a in span.annotations
            if a.time is not None
        )
        orphan = '<span class="badge orphan">orphan: parent not in these logs</span>' * node.orphan
        failed = ' class="err"' if span.failed else ""
        duration = "" if span.duration is None else escape(format_ms(span.duration))
        classes = ["span"]
        classes += ["crit"] if key in self.analysis.critical else []
        cause = self.analysis.root_cause
        classes += ["cause"] if cause is not None and key == key_of(cause.span) else []
        leaf = " leaf" if not node.children else ""
        self.rows.append(
            f'<tr class="{" ".join(classes)}" tabindex="0" data-index="{index}" '
            f'data-span-id="{safe(span.span_id)}">'
            f'<td class="what"><span class="tree">{prefix}</span>'
            f'<button class="tog{leaf}" tabindex="-1" aria-label="collapse">▾</button>'
            f"<span{failed}>{safe(span.label)}</span>{badge}{orphan}</td>"
            f'<td><span class="swatch {colour_class(self.trace.services, span.service)}">'
            f"</span>{safe(span.service)}</td>"
            f"<td{failed}>{escape(_status_text(span))}</td>"
            f'<td class="num">{duration}</td>'
            f'<td class="fall"><div class="track">{self._bar(span, hop_text)}{marks}</div>'
            "</td></tr>"
        )
        return index

    def ticks(self) -> tuple[str, float]:
        """The axis labels, and the step as a share of the axis (for the grid lines)."""
        if self.trace.start is None:
            return "", 25.0
        step = nice_step(self.length)
        labels = []
        count = int(self.length / step + 1e-9)
        for n in range(count + 1):
            where = n * step / self.length * 100.0
            if where > 94:  # no room for a label at the very end
                break
            labels.append(
                f'<span class="tick" style="left:{where:.3f}%">{tick_label(n * step)}</span>'
            )
        return "".join(labels), step / self.length * 100.0

    def walk(self) -> None:
        """Every span in display order, with tree lines drawn like the text view's."""
        stack: list[tuple[SpanNode, int, str, str]] = [
            (root, -1, "", "") for root in reversed(self.trace.roots)
        ]
        while stack:
            node, parent, own, below = stack.pop()
            index = self.add_span(node, parent, own)
            children = node.children
            for position in reversed(range(len(children))):
                last = position == len(children) - 1
                stack.append(
                    (
                        children[position],
                        index,
                        below + ("└─ " if last else "├─ "),
                        below + ("   " if last else "│  "),
                    )
                )


def _header(trace: Trace, analysis: Analysis, page: _Page, back_href: str | None) -> str:
    facts = [
        f"{format_time(trace.start)} UTC",
        f"total {format_ms(trace.duration)}",
        f"{trace.span_count} spans",
        f"{len(trace.services)} services",
    ]
    fact_html = "".join(f"<span>{escape(fact)}</span>" for fact in facts)
    if trace.error_count:
        began = len(analysis.origins)
        fact_html += (
            f'<span class="err">{trace.error_count} failed, {began} where a failure began</span>'
        )
    if trace.orphan_count:
        fact_html += f"<span>{trace.orphan_count} orphans</span>"
    cause = ""
    if analysis.root_cause is not None and analysis.headline is not None:
        index = page.index_of[key_of(analysis.root_cause.span)]
        caused = len(analysis.caused)
        because = f" · {caused} span{'s' * (caused != 1)} failed because of it" if caused else ""
        cause = (
            f'<div id="cause"><strong>root cause</strong> '
            f'<button id="goto-cause" data-index="{index}">{safe(analysis.headline)}</button>'
            f"{escape(because)}</div>"
        )
    legend = "".join(
        f'<span><span class="swatch {colour_class(trace.services, s)}"></span>{safe(s)}</span>'
        for s in trace.services
    )
    back = f'<a href="{escape(back_href)}">← all traces</a> ' if back_href else ""
    return (
        f"<header>{back}<h1>trace {safe(trace.trace_id)}</h1>"
        f'<div class="facts">{fact_html}</div>{cause}<div class="legend">{legend}</div></header>'
    )


def _toolbar(trace: Trace) -> str:
    # Options name services by their place in the legend: the names themselves may hold
    # characters that the page shows escaped.
    options = "".join(
        f'<option value="{n}">{safe(s)}</option>' for n, s in enumerate(trace.services)
    )
    return (
        '<div class="toolbar">'
        '<input type="search" id="search" placeholder="search spans (/)" aria-label="search">'
        f'<select id="service" aria-label="service"><option value="">all services</option>'
        f"{options}</select>"
        '<select id="status" aria-label="status"><option value="">any status</option>'
        '<option value="failed">failed</option><option value="ok">not failed</option></select>'
        '<label><input type="checkbox" id="critical" checked> critical path</label>'
        '<button id="expand" type="button">expand all</button>'
        '<button id="collapse" type="button">collapse all</button>'
        '<span id="shown"></span>'
        '<span class="hint">↑↓ move · ←→ fold · Enter details · / search · Esc close</span>'
        "</div>"
    )


def render_html(trace: Trace, back_href: str | None = None) -> str:
    """The complete page as a string; `back_href` links back to a trace list (for `serve`)."""
    analysis = analyse(trace)
    page = _Page(trace, analysis)
    page.walk()
    ticks, tick_share = page.ticks()
    body = f"""{_header(trace, analysis, page, back_href)}
{_toolbar(trace)}
<table id="waterfall" style="--tick:{tick_share:.4f}%">
<thead><tr><th>span</th><th>service</th><th>status</th><th class="num">duration</th>
<th class="axis"><div class="ticks">{ticks}</div></th></tr></thead>
<tbody>
{chr(10).join(page.rows)}
</tbody>
</table>
<section id="details" hidden></section>
<script type="application/json" id="span-data">{json_for_script(page.details)}</script>"""
    return html_page(f"trace {trace.trace_id}", body, scripts=(asset("waterfall.js"),))
