"""Aligned tables for `list` and `stats`.

Columns are sized to their content; every data string is cleaned before it is printed,
for the same reason as in the tree view.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from traced_http.viewer.sanitize import clean, clip
from traced_http.viewer.stats import RouteStats
from traced_http.viewer.style import Style
from traced_http.viewer.summary import TraceSummary
from traced_http.viewer.times import format_ms, format_time

MAX_ROOT = 60


def _table(header: Sequence[str], rows: list[list[str]], right: set[int]) -> list[list[str]]:
    """Pad every cell to its column's width; columns in `right` are right-aligned."""
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    return [
        [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        for row in [list(header), *rows]
    ]


_LIST_HEADER = ("START (UTC)", "TRACE ID", "ROOT", "STATUS", "DURATION", "SPANS", "SERVICES", "")
_LIST_RIGHT = {3, 4, 5, 6}


def _list_cells(summary: TraceSummary) -> list[str]:
    return [
        format_time(summary.start),
        clean(summary.trace_id),
        clip(clean(summary.root_label), MAX_ROOT),
        "" if summary.root_status is None else str(summary.root_status),
        format_ms(summary.duration),
        str(summary.span_count),
        str(summary.service_count),
        "ERROR" if summary.error else "",
    ]


def render_list(summaries: Sequence[TraceSummary], style: Style) -> Iterator[str]:
    """One line per trace: start, id, root, status, duration, spans, services, error mark.

    Lines are made one at a time (cells are formatted twice: once to size the columns),
    so that printing a hundred thousand traces does not hold them all as text.
    """
    widths = [len(title) for title in _LIST_HEADER]
    for summary in summaries:
        widths = [max(w, len(cell)) for w, cell in zip(widths, _list_cells(summary))]

    def pad(cells: Sequence[str]) -> list[str]:
        return [
            cell.rjust(widths[i]) if i in _LIST_RIGHT else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]

    yield style.paint("  ".join(pad(_LIST_HEADER)).rstrip(), "header")
    for summary in summaries:
        cells = pad(_list_cells(summary))
        if summary.error:
            cells[-1] = style.paint(cells[-1], "error")
            cells[3] = style.paint(cells[3], "error")
        else:
            cells[3] = style.status(cells[3], summary.root_status, False)
        yield "  ".join(cells).rstrip()


def render_stats(rows: Sequence[RouteStats], style: Style) -> str:
    """Per service and route: count, error rate and p50/p95/p99 durations."""
    header = ("SERVICE", "ROUTE", "COUNT", "ERRORS", "P50", "P95", "P99")
    cells = [
        [
            clip(clean(r.service), 30),
            clip(clean(r.route), MAX_ROOT),
            f"{r.count:,}",
            f"{r.error_rate * 100:.1f}%",
            format_ms(r.percentile(0.50)),
            format_ms(r.percentile(0.95)),
            format_ms(r.percentile(0.99)),
        ]
        for r in rows
    ]
    table = _table(header, cells, right={2, 3, 4, 5, 6})
    lines = [style.paint("  ".join(table[0]).rstrip(), "header")]
    for row, line in zip(rows, table[1:]):
        if row.errors:
            line[3] = style.paint(line[3], "error")
        line[0] = style.service(line[0], row.service)
        lines.append("  ".join(line).rstrip())
    return "\n".join(lines)
