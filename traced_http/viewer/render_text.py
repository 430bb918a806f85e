"""Draw one trace as an aligned text tree with a waterfall on a shared time axis.

Every data string passes through `sanitize.clean`: the logs are untrusted, the terminal
must not obey escape sequences hidden in a URL or an error message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from traced_http.viewer.analysis import Analysis, analyse, key_of
from traced_http.viewer.sanitize import clean, clip
from traced_http.viewer.spans import Annotation
from traced_http.viewer.style import Style
from traced_http.viewer.times import axis_fraction, format_ms, format_time
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode

MAX_SERVICE = 20
MAX_LABEL = 72
MIN_BAR = 20
MAX_BAR = 60
FULL, UNFINISHED, INSTANT = "█", "░", "◆"


@dataclass
class _Row:
    service: str
    prefix: str
    label: str
    mark: str = ""
    status: str = ""
    duration: str = ""
    bar_from: float | None = None
    bar_to: float | None = None
    instant: bool = False
    failed: bool = False
    status_code: int | None = None
    note: str = ""
    hop: str = ""


def _finding(node: SpanNode, analysis: Analysis) -> str:
    """The root-cause mark of a span, as in the HTML page's badges."""
    key = key_of(node.span)
    if analysis.root_cause is not None and key == key_of(analysis.root_cause.span):
        return " [root cause]"
    if key in analysis.caused:
        return " [failed downstream]"
    if key in analysis.retried_away:
        return " [retried]"
    return ""


def _hop_note(node: SpanNode, analysis: Analysis) -> str:
    hop = analysis.hops.get(key_of(node.span))
    if hop is None or hop.server is None:
        return ""
    note = f"gap {format_ms(hop.gap)}"
    if hop.attempts > 1:
        note += f", {hop.attempts} tries (+{format_ms(hop.retry_cost)})"
    return note


def _span_row(node: SpanNode, prefix: str, analysis: Analysis) -> _Row:
    span = node.span
    if span.state is not None:  # a task's own word for how it ended: SUCCESS, RETRY...
        status = clean(span.state)
    elif span.error is not None:
        status = f"{span.status} error" if span.status is not None else "error"
    elif span.status is not None:
        status = str(span.status)
    else:
        status = "no end" if span.has_start and not span.has_end else ""
    note = ""
    if span.error is not None:
        note = f"! {clean(span.error.type)}: {clean(span.error.message)}"
    mark = _finding(node, analysis)
    if node.orphan:
        mark += " [orphan]"
    label = clean(span.label)
    if span.queue_time is not None:
        label += f" · queued {format_ms(span.queue_time)}"
    return _Row(
        service=clean(span.service),
        prefix=prefix,
        label=label,
        mark=mark,
        status=status,
        duration=format_ms(span.duration) if span.duration is not None else "",
        bar_from=span.start,
        bar_to=span.end,
        failed=span.failed,
        status_code=span.status,
        note=note,
        hop=_hop_note(node, analysis),
    )


def _annotation_row(annotation: Annotation, prefix: str) -> _Row:
    details = annotation.details
    if annotation.kind == "retry":
        attempt = details.get("attempt", "?")
        reason = details.get("reason") or ""
        label = f"↻ retry #{attempt}" + (f" ({reason})" if reason else "")
        status = details.get("status")
        status_text = str(status) if isinstance(status, int) else ""
    else:
        label = f"• {annotation.name}"
        status_text = ""
    return _Row(
        service=clean(annotation.service),
        prefix=prefix,
        label=clean(label),
        status=clean(status_text),
        bar_from=annotation.time,
        instant=True,
    )


def _items(node: SpanNode) -> list[SpanNode | Annotation]:
    """A span's children and annotations, interleaved by time."""

    def when(item: SpanNode | Annotation) -> float:
        time = item.span.sort_time if isinstance(item, SpanNode) else item.time
        return time if time is not None else math.inf

    items: list[SpanNode | Annotation] = [*node.span.annotations, *node.children]
    return sorted(items, key=when)


def _rows(trace: Trace, analysis: Analysis) -> Iterator[_Row]:
    stack: list[tuple[SpanNode | Annotation, str, str]] = [
        (root, "", "") for root in reversed(trace.roots)
    ]
    while stack:
        item, own, below = stack.pop()
        if isinstance(item, Annotation):
            yield _annotation_row(item, own)
            continue
        row = _span_row(item, own, analysis)
        items = _items(item)
        if row.note:
            row.note = below + ("│  " if items else "   ") + row.note
        yield row
        for position in reversed(range(len(items))):
            last = position == len(items) - 1
            own_prefix = below + ("└─ " if last else "├─ ")
            stack.append((items[position], own_prefix, below + ("   " if last else "│  ")))


def _bar(row: _Row, start: float, end: float, width: int) -> str:
    if row.bar_from is None:
        return ""

    def cell(time: float) -> float:
        return axis_fraction(time, start, end) * width

    first = min(width - 1, max(0, math.floor(cell(row.bar_from))))
    if row.instant:
        return " " * first + INSTANT
    if row.bar_to is None:
        return " " * first + UNFINISHED * (width - first)
    last = min(width, max(first + 1, math.ceil(cell(row.bar_to))))
    return " " * first + FULL * (last - first)


def render_trace(trace: Trace, style: Style, columns: int = 120) -> str:
    """The whole `show` output for one trace, lines joined with newlines."""
    analysis = analyse(trace)
    rows = list(_rows(trace, analysis))
    service_w = max(7, *(min(MAX_SERVICE, len(r.service)) for r in rows))
    label_w = max(4, *(min(MAX_LABEL, len(r.prefix) + len(r.label) + len(r.mark)) for r in rows))
    status_w = max(6, *(len(r.status) for r in rows))
    duration_w = max(8, *(len(r.duration) for r in rows))
    fixed = service_w + label_w + status_w + duration_w + 8
    bar_w = max(MIN_BAR, min(MAX_BAR, columns - fixed))
    start = trace.start if trace.start is not None else 0.0
    end = trace.end if trace.end is not None else start
    length = max(end - start, 1e-9)

    lines = [_header(trace, style, analysis)]
    left = "0 ms" if trace.start is not None else "?"
    right = format_ms(length if trace.end is not None else None)
    axis = left + right.rjust(bar_w - len(left))
    lines.append(
        style.paint(
            f"{'SERVICE':<{service_w}}  {'SPAN':<{label_w}}  {'STATUS':<{status_w}}  "
            f"{'DURATION':>{duration_w}}  {axis}",
            "header",
        )
    )
    for row in rows:
        lines.append(
            _format_row(row, style, (service_w, label_w, status_w, duration_w), start, end, bar_w)
        )
        if row.note:
            pad = " " * (service_w + 2)
            lines.append(pad + style.paint(clip(row.note, label_w + status_w + 40), "error"))
    if trace.orphan_count:
        lines.append(
            style.paint(
                "[orphan]: the span's parent is not in the logs given (a service's log is "
                "missing), so it is shown under the root.",
                "dim",
            )
        )
    return "\n".join(lines)


def _format_row(
    row: _Row,
    style: Style,
    widths: tuple[int, int, int, int],
    start: float,
    end: float,
    bar_w: int,
) -> str:
    service_w, label_w, status_w, duration_w = widths
    service = clip(row.service, service_w)
    label = clip(row.label + row.mark, max(8, label_w - len(row.prefix)))
    has_mark = row.mark and label.endswith(row.mark)
    main = label[: len(label) - len(row.mark)] if has_mark else label
    label_cell = style.paint(row.prefix, "dim") + (
        style.paint(main, "error") if row.failed else main
    )
    if has_mark:
        label_cell += style.paint(row.mark, "orphan" if row.mark == " [orphan]" else "error")
    label_pad = " " * (label_w - len(row.prefix) - len(label))
    bar = _bar(row, start, end, bar_w)
    bar_cell = style.paint(bar, "error") if row.failed else style.service(bar, row.service)
    return (
        f"{style.service(service, row.service)}{' ' * (service_w - len(service))}  "
        f"{label_cell}{label_pad}  "
        f"{style.status(row.status, row.status_code, row.failed)}"
        f"{' ' * (status_w - len(row.status))}  "
        f"{row.duration:>{duration_w}}  {bar_cell}"
        f"{'  ' + style.paint(row.hop, 'dim') if row.hop else ''}"
    ).rstrip()


def _header(trace: Trace, style: Style, analysis: Analysis) -> str:
    parts = [
        style.paint(f"trace {clean(trace.trace_id)}", "bold"),
        f"{format_time(trace.start)} UTC",
        f"total {format_ms(trace.duration)}",
        f"{trace.span_count} span{'s' * (trace.span_count != 1)}",
        f"{len(trace.services)} service{'s' * (len(trace.services) != 1)}",
    ]
    if trace.error_count:
        errors = f"{trace.error_count} error{'s' * (trace.error_count != 1)}"
        parts.append(style.paint(errors, "error"))
    if trace.orphan_count:
        orphans = f"{trace.orphan_count} orphan{'s' * (trace.orphan_count != 1)}"
        parts.append(style.paint(orphans, "orphan"))
    if analysis.headline is not None:
        parts.append(style.paint(f"root cause: {clean(analysis.headline)}", "error"))
    return " · ".join(parts)
