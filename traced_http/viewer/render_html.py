"""One self-contained HTML page for a trace: the waterfall, and each span's details on click.

The page fetches nothing (a Content-Security-Policy forbids it outright) and trusts nothing
from the logs: every data string is HTML-escaped in the markup, the span details travel as
JSON with `<`, `>` and `&` escaped, and the script shows them with `textContent` only. Its
single inline script is allowed by hash, so even markup that slipped in could not run.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

from traced_http.viewer.render_json import span_data
from traced_http.viewer.spans import Annotation
from traced_http.viewer.times import format_ms, format_time
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode

_PALETTE = 8

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d232a;background:#fafbfc}
header{padding:12px 18px;background:#24292f;color:#fff}
header h1{font-size:16px;margin:0 0 4px;font-family:ui-monospace,monospace}
header .facts span{margin-right:16px}
.err{color:#cf222e;font-weight:600}
header .err{color:#ff8182}
table{border-collapse:collapse;width:100%}
th{position:sticky;top:0;background:#eaeef2;text-align:left;font-weight:600;padding:4px 8px}
td{padding:2px 8px;white-space:nowrap;border-bottom:1px solid #eaeef2}
tr.span{cursor:pointer}
tr.span:hover,tr.span:focus{background:#ddf4ff;outline:none}
tr.selected{background:#b6e3ff!important}
tr.note td{color:#57606a;font-size:12px}
td.what{font-family:ui-monospace,monospace;max-width:44vw;overflow:hidden;text-overflow:ellipsis}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.fall{width:40%;min-width:240px;position:relative}
.track{position:relative;height:14px}
.bar{position:absolute;top:2px;height:10px;min-width:2px;border-radius:2px}
.bar.open{opacity:.4}
.bar.failed{background:#cf222e!important}
.mark{position:absolute;top:0;width:8px;height:8px;margin-left:-4px;transform:rotate(45deg);
background:#57606a;top:3px}
.orphan{color:#8250df;font-size:12px;margin-left:6px}
.svc0{background:#0969da}.svc1{background:#bf8700}.svc2{background:#1a7f37}
.svc3{background:#8250df}.svc4{background:#bc4c00}.svc5{background:#0550ae}
.svc6{background:#6e7781}.svc7{background:#953800}
#details{position:sticky;bottom:0;max-height:45vh;overflow:auto;background:#fff;
border-top:2px solid #24292f;padding:10px 18px}
#details dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
#details dt{color:#57606a}
#details dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
#details pre{background:#f6f8fa;padding:8px;overflow:auto;max-height:30vh}
"""

_SCRIPT = """
(function () {
  "use strict";
  var spans = JSON.parse(document.getElementById("span-data").textContent);
  var panel = document.getElementById("details");
  function fmtTime(t) { return t === null ? "?" : new Date(t * 1000).toISOString(); }
  function add(dl, name, value) {
    if (value === null || value === undefined || value === "") { return; }
    var dt = document.createElement("dt"); dt.textContent = name;
    var dd = document.createElement("dd"); dd.textContent = String(value);
    dl.appendChild(dt); dl.appendChild(dd);
  }
  function show(row) {
    var span = spans[Number(row.getAttribute("data-index"))];
    var old = document.querySelector("tr.selected");
    if (old) { old.classList.remove("selected"); }
    row.classList.add("selected");
    panel.textContent = "";
    var title = document.createElement("h2"); title.textContent = span.label;
    var dl = document.createElement("dl");
    add(dl, "service", span.service);
    add(dl, "kind", span.kind);
    add(dl, "span id", span.span_id);
    add(dl, "parent id", span.parent_id);
    add(dl, "start", fmtTime(span.start_time));
    add(dl, "duration", span.duration_ms === null ? "?" : span.duration_ms + " ms");
    add(dl, "status", span.status);
    add(dl, "url", span.url);
    if (span.error) { add(dl, "error", span.error.type + ": " + span.error.message); }
    if (span.orphan) { add(dl, "orphan", "parent span not in the logs given"); }
    span.annotations.forEach(function (a) {
      add(dl, a.kind === "retry" ? "retry" : "event " + a.name,
          fmtTime(a.time) + " " + JSON.stringify(a.details));
    });
    var pre = document.createElement("pre");
    pre.textContent = JSON.stringify(span.events, null, 2);
    panel.appendChild(title); panel.appendChild(dl); panel.appendChild(pre);
    panel.hidden = false;
  }
  document.querySelectorAll("tr.span").forEach(function (row) {
    row.addEventListener("click", function () { show(row); });
    row.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); show(row); }
    });
  });
})();
"""


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its <script> element or open markup inside it."""
    text = json.dumps(data, ensure_ascii=False, default=str)
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


class _Page:
    """Collects the rows of the waterfall table and the details data behind them."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.start = trace.start if trace.start is not None else 0.0
        self.length = max((trace.end or self.start) - self.start, 1e-9)
        self.rows: list[str] = []
        self.details: list[dict[str, Any]] = []

    def _percent(self, time: float) -> float:
        return max(0.0, min(100.0, (time - self.start) / self.length * 100.0))

    def _colour(self, service: str) -> str:
        services = self.trace.services
        index = services.index(service) if service in services else len(services)
        return f"svc{index % _PALETTE}"

    def add_span(self, node: SpanNode, depth: int) -> None:
        span = node.span
        index = len(self.details)
        self.details.append(span_data(span, node.orphan))
        status = "" if span.status is None else str(span.status)
        if span.error is not None:
            status = (status + " " if status else "") + "error"
        bar = ""
        if span.start is not None:
            left = self._percent(span.start)
            end = span.end
            width = (self._percent(end) if end is not None else 100.0) - left
            classes = ["bar", self._colour(span.service)]
            classes += ["failed"] if span.failed else []
            classes += ["open"] if end is None else []
            bar = (
                f'<div class="{" ".join(classes)}" '
                f'style="left:{left:.3f}%;width:{max(width, 0.2):.3f}%"></div>'
            )
        marks = "".join(
            f'<div class="mark" title="{escape(a.name)}" '
            f'style="left:{self._percent(a.time):.3f}%"></div>'
            for a in span.annotations
            if a.time is not None
        )
        orphan = '<span class="orphan">orphan: parent not in these logs</span>' * node.orphan
        failed = ' class="err"' if span.failed else ""
        duration = "" if span.duration is None else escape(format_ms(span.duration))
        self.rows.append(
            f'<tr class="span" tabindex="0" data-index="{index}" '
            f'data-span-id="{escape(span.span_id)}">'
            f"<td>{escape(span.service)}</td>"
            f'<td class="what" style="padding-left:{8 + 18 * depth}px">'
            f"<span{failed}>{escape(span.label)}</span>{orphan}</td>"
            f"<td{failed}>{escape(status)}</td>"
            f'<td class="num">{duration}</td>'
            f'<td class="fall"><div class="track">{bar}{marks}</div></td></tr>'
        )
        for annotation in span.annotations:
            self._add_note(annotation, depth + 1)

    def _add_note(self, annotation: Annotation, depth: int) -> None:
        if annotation.kind == "retry":
            attempt = annotation.details.get("attempt", "?")
            reason = annotation.details.get("reason") or ""
            text = f"↻ retry #{attempt} {reason}".rstrip()
        else:
            text = f"• {annotation.name}"
        mark = ""
        if annotation.time is not None:
            mark = f'<div class="mark" style="left:{self._percent(annotation.time):.3f}%"></div>'
        self.rows.append(
            f'<tr class="note"><td>{escape(annotation.service)}</td>'
            f'<td class="what" style="padding-left:{8 + 18 * depth}px">{escape(text)}</td>'
            f'<td></td><td></td><td class="fall"><div class="track">{mark}</div></td></tr>'
        )


def render_html(trace: Trace) -> str:
    """The complete page as a string."""
    page = _Page(trace)
    for node, depth in trace.nodes():
        page.add_span(node, depth)
    facts = [
        f"{format_time(trace.start)} UTC",
        f"total {format_ms(trace.duration)}",
        f"{trace.span_count} spans",
        f"{len(trace.services)} services: {', '.join(trace.services)}",
    ]
    fact_html = "".join(f"<span>{escape(fact)}</span>" for fact in facts)
    if trace.error_count:
        fact_html += f'<span class="err">{trace.error_count} failed</span>'
    if trace.orphan_count:
        fact_html += f"<span>{trace.orphan_count} orphans</span>"
    policy = (
        f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src 'unsafe-inline'; "
        "img-src 'none'; form-action 'none'; base-uri 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{escape(policy)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trace {escape(trace.trace_id)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>trace {escape(trace.trace_id)}</h1><div class="facts">{fact_html}</div></header>
<table id="waterfall">
<thead><tr><th>service</th><th>span</th><th>status</th><th>duration</th>
<th>0 ms … {escape(format_ms(page.length if trace.end is not None else None))}</th></tr></thead>
<tbody>
{chr(10).join(page.rows)}
</tbody>
</table>
<section id="details" hidden></section>
<script type="application/json" id="span-data">{_json_for_script(page.details)}</script>
<script>{_SCRIPT}</script>
</body>
</html>
"""
