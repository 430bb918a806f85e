"""`traced-http diff`: two traces side by side, or two sets of logs (before and after).

Two traces are compared span by span. A span is matched by its place in the tree: the
chain of (service, kind, route) from the root down to it, and its rank among siblings of
the same kind, so `/orders/17` in one trace meets `/orders/18` in the other.

Two sets of logs are compared per route (inbound requests) and per call (outbound hops,
by caller and target): p50, p95 and error rate, sorted by impact. Impact is the time the
change costs in the second set: its count times the change in p50 and p95 (averaged),
with each extra failed request counted as one second.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from traced_http import schema
from traced_http.schema import CALL, JOB, REQUEST, START
from traced_http.viewer.fields import integer, number, text
from traced_http.viewer.sanitize import clean
from traced_http.viewer.stats import RouteStats, Stats, route_of
from traced_http.viewer.times import format_ms
from traced_http.viewer.trace import Trace
from traced_http.viewer.tree import SpanNode

Event = dict[str, Any]
# A matched span is "slower" when it took this much longer, and this share longer.
SLOWER_BY = 0.001
SLOWER_SHARE = 0.10
FAILED_REQUEST_COST = 1.0


def span_shape(node: SpanNode) -> str:
    """What a span is, without the ids in its path: `GET /orders/{id}`, `call GET orders/x`.

    A call names the service that answered it when its request is in the logs, else the
    host it went to: hosts and ports change between deploys, service names do not.
    """
    span = node.span
    if span.kind == JOB:
        return f"job {span.name or '?'}"
    if span.kind == REQUEST:
        return route_of({"method": span.method, "path": span.path or span.url or "?"})
    if span.kind == CALL:
        callee = next((c.span.service for c in node.children if c.span.kind == REQUEST), None)
        return "call " + call_target(span.method, span.url, callee)
    return "span"


def call_target(method: str | None, url: str | None, callee: str | None) -> str:
    """`GET orders/orders/{id}`: the method, the service (or host) and the path's shape."""
    try:
        parts = urlsplit(url or "?")
        host, path = parts.netloc, parts.path or "/"
    except ValueError:
        host, path = "", url or "?"
    route = route_of({"method": method or "?", "path": path})
    verb, _, shape = route.partition(" ")
    return f"{verb} {callee or host}{shape}"


# A span's place: (its parent's place, service, shape, rank among same-shaped siblings),
# numbered through a table shared by both traces, so a key stays small however deep.
Place = tuple[int, str, str, int]


def _keyed(trace: Trace, places: dict[Place, int]) -> dict[int, tuple[SpanNode, str, int, int]]:
    """Every span of the trace under its place number: the span, its shape, its depth and
    its parent's place."""
    keyed: dict[int, tuple[SpanNode, str, int, int]] = {}
    seen: dict[tuple[int, str, str], int] = {}
    stack: list[tuple[SpanNode, int, int]] = [(root, -1, 0) for root in reversed(trace.roots)]
    while stack:
        node, parent, depth = stack.pop()
        service, shape = node.span.service, span_shape(node)
        rank = seen.get((parent, service, shape), 0)
        seen[(parent, service, shape)] = rank + 1
        place = places.setdefault((parent, service, shape, rank), len(places))
        keyed[place] = (node, shape, depth, parent)
        for child in reversed(node.children):
            stack.append((child, place, depth + 1))
    return keyed


@dataclass
class SpanChange:
    """One span of either trace: its duration in each (None when absent there)."""

    service: str
    shape: str
    depth: int
    before: float | None
    after: float | None
    in_before: bool
    in_after: bool
    own_change: float | None = None

    @property
    def status(self) -> str:
        """`new`, `missing`, `slower`, `faster` or empty."""
        if not self.in_before:
            return "new"
        if not self.in_after:
            return "missing"
        if self.before is None or self.after is None:
            return ""
        change = self.after - self.before
        if abs(change) >= SLOWER_BY and abs(change) >= SLOWER_SHARE * self.before:
            return "slower" if change > 0 else "faster"
        return ""


def compare_traces(before: Trace, after: Trace) -> list[SpanChange]:
    """The spans of both traces, matched by their place in the tree, in display order.

    Each matched span also gets its own change: its change less its children's (a new
    child adds its time, a missing one takes its time off), which says where time went.
    """
    places: dict[Place, int] = {}
    old, new = _keyed(before, places), _keyed(after, places)
    changes: dict[int, SpanChange] = {}
    parents: dict[int, int] = {}
    for place, (node, shape, depth, parent) in new.items():
        match = old.get(place)
        parents[place] = parent
        changes[place] = SpanChange(
            service=node.span.service,
            shape=shape,
            depth=depth,
            before=None if match is None else match[0].span.duration,
            after=node.span.duration,
            in_before=match is not None,
            in_after=True,
        )
    for place, (node, shape, depth, parent) in old.items():
        if place not in new:
            # Shown after the spans of the second trace, at the depth it had.
            parents[place] = parent
            changes[place] = SpanChange(
                node.span.service, shape, depth, node.span.duration, None, True, False
            )
    children_change: dict[int, float] = {}
    for place, change in changes.items():
        delta = (change.after or 0.0) - (change.before or 0.0)
        parent = parents[place]
        children_change[parent] = children_change.get(parent, 0.0) + delta
    for place, change in changes.items():
        if change.before is not None and change.after is not None:
            change.own_change = change.after - change.before - children_change.get(place, 0.0)
    return list(changes.values())


def _delta(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    change = (after - before) * 1000.0
    return f"{change:+,.1f} ms"


def render_trace_diff(before: Trace, after: Trace) -> str:
    """Both traces' headlines, whether they have the same shape, and a span table."""
    changes = compare_traces(before, after)
    new = sum(c.status == "new" for c in changes)
    missing = sum(c.status == "missing" for c in changes)
    slower = [c for c in changes if c.status == "slower"]
    lines = [
        f"A  trace {clean(before.trace_id)}  total {format_ms(before.duration)}  "
        f"{before.span_count} spans",
        f"B  trace {clean(after.trace_id)}  total {format_ms(after.duration)}  "
        f"{after.span_count} spans",
    ]
    if new or missing:
        lines.append(f"shape differs: {new} new span(s) in B, {missing} missing from B")
    else:
        lines.append("same shape")
    if slower:
        # Where the time went: the span whose own time (not its children's) grew most.
        worst = max(slower, key=lambda c: c.own_change or 0.0)
        lines.append(
            f"{len(slower)} span(s) slower in B; the time went to {clean(worst.service)} "
            f"{clean(worst.shape)}: {(worst.own_change or 0.0) * 1000:+,.1f} ms of its own"
        )
    lines.append("")
    rows = [
        [
            clean(c.service),
            "  " * c.depth + clean(c.shape),
            "" if c.before is None else format_ms(c.before),
            "" if c.after is None else format_ms(c.after),
            _delta(c.before, c.after),
            c.status,
        ]
        for c in changes
    ]
    lines.extend(_table(("SERVICE", "SPAN", "A", "B", "CHANGE", ""), rows, right={2, 3, 4}))
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: list[list[str]], right: set[int]) -> Iterator[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for row in [list(header), *rows]:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        yield "  ".join(cells).rstrip()


class CallStats:
    """Per caller service and call target: durations and failures of the call hops.

    The target is the service whose request names the call as parent, when one does (a
    small record per call is kept until the end for that), else the host.
    """

    def __init__(self) -> None:
        self._calls: dict[str, tuple[str, str | None, str | None, float, bool]] = {}
        self._callees: dict[str, str] = {}

    def add_all(self, events: Iterable[Event]) -> None:
        """Fold the call events in, and note which service each call reached."""
        for event in events:
            kind = event["event_des"]
            if kind == START:
                parent = event.get("parent_id")
                if parent is not None:
                    self._callees[parent] = event["service"]
                continue
            if kind != CALL:
                continue
            msg: dict[str, Any] = event["msg_dict"]
            duration = number(msg.get("cost_time"))
            if duration is None:
                continue
            status = integer(msg.get("status_code"))
            failed = schema.failed(msg.get("error"), status)
            self._calls[event["span_id"]] = (
                event["service"],
                text(msg.get("method")),
                text(msg.get("url")),
                duration,
                failed,
            )

    def rows(self) -> list[RouteStats]:
        """The rows with their durations sorted, for the percentiles."""
        routes: dict[tuple[str, str], RouteStats] = {}
        for span_id, (service, method, url, duration, failed) in self._calls.items():
            target = "call " + call_target(method, url, self._callees.get(span_id))
            row = routes.get((service, target))
            if row is None:
                row = routes[(service, target)] = RouteStats(service, target, array("d"))
            row.durations.append(duration)
            row.errors += failed
        for row in routes.values():
            row.durations = array("d", sorted(row.durations))
        return list(routes.values())


class LogSet:
    """Everything `diff` needs from one set of logs: route and call statistics."""

    def __init__(self) -> None:
        self.requests = Stats()
        self.calls = CallStats()

    def add_all(self, events: Iterable[Event]) -> None:
        """Fold every event into both tables in one pass."""
        for event in events:
            self.requests.add_all((event,))
            self.calls.add_all((event,))

    def rows(self) -> dict[tuple[str, str], RouteStats]:
        """Requests and calls, keyed by (service, route or call target)."""
        return {(r.service, r.route): r for r in [*self.requests.rows(), *self.calls.rows()]}


@dataclass
class RouteChange:
    """One route or call in both sets of logs."""

    service: str
    route: str
    before: RouteStats | None
    after: RouteStats | None

    @property
    def impact(self) -> float:
        """Seconds the change costs in B (negative: saves); see the module's docstring."""
        if self.before is None or self.after is None:
            present = self.after or self.before
            assert present is not None
            return sum(present.durations) + present.errors * FAILED_REQUEST_COST
        count = self.after.count
        latency = 0.0
        for share in (0.50, 0.95):
            old, new = self.before.percentile(share), self.after.percentile(share)
            if old is not None and new is not None:
                latency += (new - old) / 2
        errors = (self.after.error_rate - self.before.error_rate) * count
        return count * latency + errors * FAILED_REQUEST_COST


def compare_logs(before: LogSet, after: LogSet) -> list[RouteChange]:
    """Every route and call of either set, the largest impact (either way) first."""
    old, new = before.rows(), after.rows()
    changes = [RouteChange(key[0], key[1], old.get(key), new.get(key)) for key in {*old, *new}]
    return sorted(changes, key=lambda c: (-abs(c.impact), c.service, c.route))


def _percent(row: RouteStats | None) -> str:
    return "" if row is None else f"{row.error_rate * 100:.1f}%"


def _pct(row: RouteStats | None, share: float) -> str:
    return "" if row is None else format_ms(row.percentile(share))


def render_log_diff(changes: list[RouteChange], limit: int | None = None) -> str:
    """One row per route or call: count, p50, p95 and error rate in A and B, and impact."""
    rows = []
    for change in changes[:limit] if limit is not None else changes:
        a, b = change.before, change.after
        note = "new" if a is None else "gone" if b is None else ""
        rows.append(
            [
                clean(change.service)[:30],
                clean(change.route)[:60],
                "" if a is None else f"{a.count:,}",
                "" if b is None else f"{b.count:,}",
                _pct(a, 0.50),
                _pct(b, 0.50),
                _pct(a, 0.95),
                _pct(b, 0.95),
                _percent(a),
                _percent(b),
                f"{change.impact:+,.3f} s",
                note,
            ]
        )
    header = (
        "SERVICE",
        "ROUTE",
        "COUNT A",
        "COUNT B",
        "P50 A",
        "P50 B",
        "P95 A",
        "P95 B",
        "ERR A",
        "ERR B",
        "IMPACT",
        "",
    )
    return "\n".join(_table(header, rows, right=set(range(2, 11))))
