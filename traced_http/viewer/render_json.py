"""The trace as plain JSON data: for `--format json` and as the data of the HTML page.

Times stay epoch seconds, durations are given in milliseconds (as printed elsewhere),
and every span keeps its raw events so nothing the logs said is lost.
"""

from __future__ import annotations

import json
import math
from typing import Any

from traced_http.viewer.reader import ReadCounts
from traced_http.viewer.sanitize import clean_json
from traced_http.viewer.spans import Annotation, Span
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode


def _ms(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    ms = seconds * 1000.0
    return round(ms, 3) if math.isfinite(ms) else None


def annotation_data(annotation: Annotation) -> dict[str, Any]:
    """One retry or user event."""
    return {
        "kind": annotation.kind,
        "name": annotation.name,
        "time": annotation.time,
        "service": annotation.service,
        "details": annotation.details,
    }


def span_data(span: Span, orphan: bool) -> dict[str, Any]:
    """One span's own fields, without its children."""
    return {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "kind": span.kind,
        "service": span.service,
        "label": span.label,
        "method": span.method,
        "url": span.url,
        "path": span.path,
        "name": span.name,
        "start_time": span.start,
        "duration_ms": _ms(span.duration),
        "status": span.status,
        "error": None
        if span.error is None
        else {"type": span.error.type, "message": span.error.message},
        "orphan": orphan,
        "annotations": [annotation_data(a) for a in span.annotations],
        "events": span.events,
    }


def _tree(node: SpanNode) -> dict[str, Any]:
    root = span_data(node.span, node.orphan)
    root["children"] = []
    stack: list[tuple[SpanNode, dict[str, Any]]] = [(node, root)]
    while stack:
        current, data = stack.pop()
        for child in current.children:
            child_data = span_data(child.span, child.orphan)
            child_data["children"] = []
            data["children"].append(child_data)
            stack.append((child, child_data))
    return root


def trace_data(trace: Trace, counts: ReadCounts | None = None) -> dict[str, Any]:
    """The whole trace: totals, the trees, and what reading skipped."""
    data: dict[str, Any] = {
        "trace_id": trace.trace_id,
        "start_time": trace.start,
        "end_time": trace.end,
        "duration_ms": _ms(trace.duration),
        "span_count": trace.span_count,
        "services": trace.services,
        "error_count": trace.error_count,
        "orphan_count": trace.orphan_count,
        "roots": [_tree(root) for root in trace.roots],
    }
    if counts is not None:
        data["skipped"] = {"broken": counts.broken, "not_events": counts.not_events}
    return data


def render_json(trace: Trace, counts: ReadCounts | None = None) -> str:
    """`trace_data` as indented JSON text, safe to print on a terminal.

    Control and bidi characters and lone surrogates from the logs are written as `\\u`
    escapes: a terminal never sees them raw, and any UTF-8 writer can write the text.
    """
    text = json.dumps(trace_data(trace, counts), indent=2, ensure_ascii=False, default=str)
    return clean_json(text)
