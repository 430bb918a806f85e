"""What a trace's spans mean together: where a failure began, where the time went.

Pure functions of a `Trace`, shared by the text and HTML views so both tell the same story:

- the root cause: a failed span with no failed span below it is where a failure began;
  the failed spans above it, up to the first one that did not fail, failed because of it.
  Of several such origins, the one whose failure travelled furthest up is the root cause
  (then one that was not retried away, then the deepest, then the earliest);
- per call hop, the time the client saw against the time the downstream server spent,
  the gap between them (network, queueing, back-off) and what retries cost;
- every span's self time (its duration outside its children);
- the critical path: going back from the end of each span, the child that finished last,
  then the one that finished last before that child began, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from traced_http.schema import CALL, REQUEST
from traced_http.viewer.spans import Span
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode

Key = tuple[str, str]


def key_of(span: Span) -> Key:
    """The identity of a span within the viewer: (trace id, span id)."""
    return (span.trace_id, span.span_id)


@dataclass(frozen=True)
class Hop:
    """One outbound call and the downstream request(s) it caused, in seconds."""

    client: float | None  # the call's duration, as the caller measured it
    server: float | None  # the duration of the attempt that answered last
    gap: float | None  # client time not spent in any downstream request
    attempts: int  # downstream requests (or retries logged + 1 when those are missing)
    retry_cost: float | None  # from the call's start to the start of its last attempt


@dataclass
class Analysis:
    """The findings for one trace; spans are referred to by `key_of`."""

    root_cause: SpanNode | None = None
    origins: set[Key] = field(default_factory=set)  # every span where a failure began
    caused: set[Key] = field(default_factory=set)  # failed because of a failure below
    retried_away: set[Key] = field(default_factory=set)  # failed attempts a retry replaced
    critical: set[Key] = field(default_factory=set)
    self_time: dict[Key, float] = field(default_factory=dict)
    hops: dict[Key, Hop] = field(default_factory=dict)

    @property
    def headline(self) -> str | None:
        """The root cause in one line: `billing: RuntimeError: card declined`."""
        if self.root_cause is None:
            return None
        return describe_failure(self.root_cause.span)


def describe_failure(span: Span) -> str:
    """`service: Type: message` for an exception, else `service: HTTP 503 on GET /path`."""
    where = span.service
    if span.kind == CALL and span.url:
        try:
            host = urlsplit(span.url).netloc
        except ValueError:
            host = ""
        where = f"{span.service} → {host or span.url}"
    if span.error is not None:
        message = f": {span.error.message}" if span.error.message else ""
        return f"{where}: {span.error.type}{message}"
    return f"{where}: HTTP {span.status} on {span.label}"


def _retried_away(node: SpanNode) -> list[SpanNode]:
    """A call's failed attempts that a later attempt replaced."""
    if node.span.kind != CALL or len(node.children) < 2:
        return []
    attempts = [child for child in node.children if child.span.kind == REQUEST]
    return [child for child in attempts[:-1] if child.span.failed]


def _failures(trace: Trace, analysis: Analysis) -> None:
    """Origins, the spans that failed because of them, and the root cause: one pass down."""
    # How many failed spans follow each other straight above a span: how far a failure
    # that began there travelled up.
    failed_above: dict[Key, int] = {}
    candidates: list[tuple[tuple[int, bool, int, int], SpanNode]] = []
    for index, (node, depth) in enumerate(trace.nodes()):  # parents before children
        span = node.span
        key = key_of(span)
        above = failed_above.get(key, 0)
        for child in node.children:
            failed_above[key_of(child.span)] = above + 1 if span.failed else 0
        analysis.retried_away.update(key_of(n.span) for n in _retried_away(node))
        if not span.failed:
            continue
        if any(child.span.failed for child in node.children):
            analysis.caused.add(key)
            continue
        analysis.origins.add(key)
        rank = (above, key not in analysis.retried_away, depth, -index)
        candidates.append((rank, node))
    if candidates:
        analysis.root_cause = max(candidates, key=lambda pair: pair[0])[1]


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def _times(trace: Trace, analysis: Analysis) -> None:
    for node, _depth in trace.nodes():
        span = node.span
        key = key_of(span)
        if span.start is None or span.end is None:
            continue
        inside = [
            (max(child.span.start, span.start), min(child.span.end, span.end))
            for child in node.children
            if child.span.start is not None and child.span.end is not None
        ]
        busy = _union_length([(a, b) for a, b in inside if b > a])
        analysis.self_time[key] = max(0.0, (span.duration or 0.0) - busy)
        if span.kind == CALL:
            analysis.hops[key] = _hop(node)


def _hop(node: SpanNode) -> Hop:
    span = node.span
    attempts = [child.span for child in node.children if child.span.kind == REQUEST]
    timed = [a for a in attempts if a.start is not None and a.duration is not None]
    retries = [a for a in span.annotations if a.kind == "retry"]
    count = max(len(attempts), len(retries) + 1)
    retry_cost: float | None = None
    server: float | None = None
    gap: float | None = None
    if timed:
        last = max(timed, key=lambda a: a.start or 0.0)
        server = last.duration
        if span.start is not None and last.start is not None and count > 1:
            retry_cost = max(0.0, last.start - span.start)
        if span.duration is not None:
            gap = span.duration - sum(a.duration or 0.0 for a in timed)
    elif retries and span.start is not None:
        times = [r.time for r in retries if r.time is not None]
        retry_cost = max(0.0, max(times) - span.start) if times else None
    return Hop(
        client=span.duration,
        server=server,
        gap=gap,
        attempts=count,
        retry_cost=retry_cost,
    )


def _critical(trace: Trace, analysis: Analysis) -> None:
    real_roots = [root for root in trace.roots if root.span.end is not None]
    if not real_roots:
        return
    last_root = max(real_roots, key=lambda root: root.span.end or 0.0)
    stack: list[tuple[SpanNode, float]] = [(last_root, last_root.span.end or 0.0)]
    while stack:
        node, until = stack.pop()
        analysis.critical.add(key_of(node.span))
        timed = [
            child
            for child in node.children
            if child.span.start is not None and child.span.end is not None
        ]
        timed.sort(key=lambda child: child.span.end or 0.0, reverse=True)
        horizon = min(until, node.span.end or until)
        for child in timed:
            child_end = child.span.end or 0.0
            if child_end <= horizon + 1e-9:
                stack.append((child, child_end))
                horizon = child.span.start or 0.0


def analyse(trace: Trace) -> Analysis:
    """Every finding for `trace`; linear in the number of spans (plus sorting siblings)."""
    analysis = Analysis()
    _failures(trace, analysis)
    _times(trace, analysis)
    _critical(trace, analysis)
    return analysis
