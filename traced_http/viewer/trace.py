"""One trace ready to show: its trees plus the figures every renderer prints.

Text, JSON and HTML all draw on the same axis (earliest start to latest end) and quote the
same totals; computing them once here keeps the three outputs in agreement.
"""

from __future__ import annotations

from dataclasses import dataclass

from traced_http.viewer.tree import SpanNode


@dataclass(frozen=True)
class Trace:
    """The trees of one trace id, with its time axis and totals."""

    trace_id: str
    roots: list[SpanNode]
    start: float | None
    end: float | None
    span_count: int
    services: list[str]
    error_count: int
    orphan_count: int

    @property
    def duration(self) -> float | None:
        """The root's own duration when there is one root that has it, else the axis length."""
        real_roots = [root for root in self.roots if not root.orphan]
        if len(real_roots) == 1 and real_roots[0].span.duration is not None:
            return real_roots[0].span.duration
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def nodes(self) -> list[tuple[SpanNode, int]]:
        """Every node with its depth, in display order."""
        return [pair for root in self.roots for pair in root.walk()]


def make_trace(trace_id: str, roots: list[SpanNode]) -> Trace:
    """Gather the axis and totals of the trees `build_tree` returned for one trace."""
    times: list[float] = []
    services: list[str] = []
    errors = orphans = count = 0
    for root in roots:
        for node, _depth in root.walk():
            span = node.span
            count += 1
            errors += span.failed
            orphans += node.orphan
            if span.service not in services and span.service != "?":
                services.append(span.service)
            times.extend(t for t in (span.start, span.end) if t is not None)
            times.extend(a.time for a in span.annotations if a.time is not None)
    return Trace(
        trace_id=trace_id,
        roots=roots,
        start=min(times) if times else None,
        end=max(times) if times else None,
        span_count=count,
        services=services,
        error_count=errors,
        orphan_count=orphans,
    )
