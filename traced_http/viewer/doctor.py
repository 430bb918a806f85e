"""`traced-http doctor`: where trace propagation breaks, found from the logs alone.

Every request and call hop is reduced to a small record while the logs stream by; the
checks then join calls to the downstream requests that name them as parent:

- a call answered by a service whose request names no such parent: the trace context was
  lost on the way (the service does not read it, or something between strips it), or
  the service's log was not given;
- a request that arrives with no trace context, repeatedly, while another service is in
  the middle of a request: an untraced client in that service (a plain `requests.get`,
  a foreign SDK);
- calls whose headers `propagate_to` withheld (`"propagated": false`);
- services whose clocks disagree: a downstream request should lie within the call that
  caused it, and the offset is estimated from both ends, as NTP does;
- trace ids that changed from a call to the request it caused.

Searches over time are bounded (at most `SCAN_LIMIT` neighbours per request), so the cost
stays linear in the number of events whatever the logs hold.
"""

from __future__ import annotations

import bisect
import statistics
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from traced_http import schema
from traced_http.viewer.fields import integer, number, text
from traced_http.viewer.sanitize import clean
from traced_http.viewer.stats import route_of

Event = dict[str, Any]
# How many earlier requests or calls are looked at to find what was in flight.
SCAN_LIMIT = 256
# A pattern must be seen this many times, in at least this share of a route's requests.
MIN_REPEATS = 2
MIN_SHARE = 0.5
# Clocks that disagree by less than this are not reported (seconds).
MIN_SKEW = 0.005


class _Request:
    """An inbound request, from its start and end (slots: there is one per request)."""

    __slots__ = (
        "end",
        "id_source",
        "parent_id",
        "route",
        "service",
        "span_id",
        "start",
        "trace_id",
    )

    def __init__(self, trace_id: str, span_id: str) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id: str | None = None
        self.service = "?"
        self.route = "?"
        self.id_source: str | None = None
        self.start: float | None = None
        self.end: float | None = None


class _Call:
    """An outbound call hop (slots: there is one per call)."""

    __slots__ = (
        "answered",
        "end",
        "parent_id",
        "propagated",
        "route",
        "service",
        "span_id",
        "start",
        "target",
        "trace_id",
    )

    def __init__(self, event: Event, msg: dict[str, Any]) -> None:
        self.trace_id: str = sys.intern(event["traceid"])  # shared with its requests
        self.span_id: str = event["span_id"]
        self.parent_id: str | None = event.get("parent_id")
        self.service: str = sys.intern(event["service"])
        url = text(msg.get("url")) or "?"
        # Interned: a few distinct values shared by many calls.
        self.target = sys.intern(_target(url))
        self.route = sys.intern(route_of({"method": msg.get("method"), "url": url}))
        self.start = number(msg.get("start_time"))
        cost = number(msg.get("cost_time"))
        self.end = None if self.start is None or cost is None else self.start + cost
        self.answered = integer(msg.get("status_code")) is not None and msg.get("error") is None
        # Written in the call's message; also accepted beside it, at the top of the event.
        self.propagated = (
            msg.get("propagated") is not False and event.get("propagated") is not False
        )


@dataclass
class Finding:
    """One problem: what, where (service and route), how often, and an example trace."""

    kind: str
    service: str
    route: str
    message: str
    hint: str
    count: int
    example: str
    examples: list[str] = field(default_factory=list)


def _target(url: str) -> str:
    """`host` of a call URL, for messages; the whole URL when it has none."""
    try:
        return urlsplit(url).netloc or url
    except ValueError:
        return url


class Doctor:
    """Collects the records while streaming, then runs the checks."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str], _Request] = {}
        self.calls: list[_Call] = []
        self.services: set[str] = set()

    def add_all(self, events: Iterable[Event]) -> None:
        """Fold events in; only starts, ends and calls matter here."""
        for event in events:
            kind = event["event_des"]
            msg: dict[str, Any] = event["msg_dict"]
            if kind == schema.CALL:
                self._add_call(event, msg)
                continue
            if kind not in (schema.START, schema.END):
                continue
            key = (event["traceid"], event["span_id"])
            request = self.requests.get(key)
            if request is None:
                key = (sys.intern(key[0]), key[1])
                request = self.requests[key] = _Request(*key)
            request.parent_id = request.parent_id or event.get("parent_id")
            request.service = sys.intern(event["service"])
            self.services.add(request.service)
            if kind == schema.START:
                request.route = sys.intern(route_of(msg))
                request.id_source = text(msg.get("id_source"))
                request.start = number(msg.get("start_time"))
            else:
                request.end = number(msg.get("end_time"))
                cost = number(msg.get("cost_time"))
                if request.end is None and request.start is not None and cost is not None:
                    request.end = request.start + cost
                elif request.start is None and request.end is not None and cost is not None:
                    request.start = request.end - cost

    def _add_call(self, event: Event, msg: dict[str, Any]) -> None:
        self.services.add(event["service"])
        self.calls.append(_Call(event, msg))

    def _caller_route(self, call: _Call) -> str:
        request = self.requests.get((call.trace_id, call.parent_id or ""))
        return request.route if request is not None else "(outside a request)"

    def findings(self) -> list[Finding]:
        """Every problem found, the most frequent first within each kind."""
        by_parent: dict[str, list[_Request]] = {}
        for request in self.requests.values():
            if request.parent_id is not None:
                by_parent.setdefault(request.parent_id, []).append(request)
        unmatched: list[_Call] = []
        withheld: list[_Call] = []
        changed: list[tuple[_Call, _Request]] = []
        offsets: dict[tuple[str, str], list[tuple[float, bool, _Call, _Request]]] = {}
        answering: dict[str, set[str]] = {}  # host -> the services seen answering there
        for call in self.calls:
            downstream = by_parent.get(call.span_id, [])
            if not call.propagated:
                withheld.append(call)
                continue
            if not downstream:
                if call.answered:
                    unmatched.append(call)
                continue
            for request in downstream:
                answering.setdefault(call.target, set()).add(request.service)
                if request.trace_id != call.trace_id:
                    changed.append((call, request))
            if len(downstream) == 1:  # with retries, which attempt is which is not known
                sample = _offset(call, downstream[0])
                if sample is not None:
                    pair = (call.service, downstream[0].service)
                    offsets.setdefault(pair, []).append((*sample, call, downstream[0]))
        lost, untraced, explained = self._no_context(unmatched, withheld, answering)
        results = [
            *lost,
            *self._unmatched([c for c in unmatched if id(c) not in explained]),
            *untraced,
            *self._withheld(withheld),
            *self._skew(offsets),
            *self._changed(changed),
        ]
        return results

    def _no_context(
        self, unmatched: list[_Call], withheld: list[_Call], answering: dict[str, set[str]]
    ) -> tuple[list[Finding], list[Finding], set[int]]:
        """Requests with no trace context: lost on an answered call, or an untraced client.

        A call explains such a request when it encloses it in time, its host is not known
        to be another service's, and either its path has the request's shape or the pair
        repeats (as for an untraced client). A request that a withheld call explains is
        already reported with that call.
        """
        calls = sorted((c for c in [*unmatched, *withheld] if c.start is not None), key=_start)
        call_starts = [c.start for c in calls]
        busy = sorted(
            (r for r in self.requests.values() if r.start is not None and r.end is not None),
            key=_start,
        )
        busy_starts = [r.start for r in busy]
        route_roots: dict[tuple[str, str], int] = {}
        by_call: dict[tuple[str, str, str, str, str], list[tuple[_Request, _Call]]] = {}
        # (request without context, the request in flight around it)
        by_caller: dict[tuple[str, str, str, str], list[tuple[_Request, _Request]]] = {}
        # How often each candidate was the innermost request in flight: the likelier
        # caller when several enclose the same requests (the caller's own caller does too).
        innermost: dict[tuple[str, str, str, str], int] = {}
        for request in self.requests.values():
            if request.parent_id is not None or request.id_source not in (None, "generated"):
                continue
            if request.start is None or request.end is None:
                continue
            route_key = (request.service, request.route)
            route_roots[route_key] = route_roots.get(route_key, 0) + 1
            call = _enclosing(calls, call_starts, request)
            in_flight = list(_in_flight(busy, busy_starts, request))
            if in_flight and call is not None and _start(in_flight[0]) > _start(call):
                call = None  # a request began inside that call and encloses this one
            if call is not None and request.service not in answering.get(
                call.target, {request.service}
            ):
                call = None  # that host is another service's
            if call is not None and not call.propagated:
                continue
            if call is not None:
                key = (request.service, request.route, call.service, self._caller_route(call))
                by_call.setdefault((*key, call.route), []).append((request, call))
                continue
            for depth, other in enumerate(in_flight):
                key = (request.service, request.route, other.service, other.route)
                by_caller.setdefault(key, []).append((request, other))
                innermost[key] = innermost.get(key, 0) + (depth == 0)
        explained: set[int] = set()
        lost: list[Finding] = []
        for (service, route, caller, caller_route, call_route), pairs in by_call.items():
            request, call = pairs[0]
            same_shape = call_route == route
            repeated = (
                len(pairs) >= MIN_REPEATS
                and len(pairs) >= MIN_SHARE * route_roots[(service, route)]
            )
            if not (same_shape or repeated):
                continue  # one request during one call: a coincidence, as far as we know
            explained.update(id(c) for _, c in pairs)
            lost.append(
                Finding(
                    kind="context lost",
                    service=service,
                    route=route,
                    message=(
                        f"{service} {route} arrives with no trace context, though "
                        f"{caller} {caller_route} calls it with one "
                        f"(call {call.route} on {call.target})"
                    ),
                    hint=(
                        f"{service} does not read the trace headers (is Tracing(app) set up, "
                        "with the same header names?), or a proxy between strips them"
                    ),
                    count=len(pairs),
                    example=call.trace_id,
                    examples=[call.trace_id, request.trace_id],
                )
            )
        untraced: list[Finding] = []
        best: dict[
            tuple[str, str],
            tuple[int, int, tuple[str, str, str, str], list[tuple[_Request, _Request]]],
        ] = {}
        for key, requests in by_caller.items():
            route_key = key[:2]
            score = (len(requests), innermost[key])
            if route_key not in best or score > best[route_key][:2]:
                best[route_key] = (*score, key, requests)
        for route_key, (count, _inner, key, requests) in best.items():
            if count < MIN_REPEATS or count < MIN_SHARE * route_roots[route_key]:
                continue
            service, route, caller, caller_route = key
            untraced.append(
                Finding(
                    kind="untraced client",
                    service=caller,
                    route=caller_route,
                    message=(
                        f"{service} {route} arrives with no trace context {count} of "
                        f"{route_roots[route_key]} times while {caller} {caller_route} "
                        "is in progress, and no traced call was made to it"
                    ),
                    hint=(
                        f"{caller} probably calls {service} with a client that is not "
                        "traced (a plain requests.get, another SDK): use traced.get or a "
                        "TracedSession, or mount traced.TracingAdapter on that session"
                    ),
                    count=count,
                    example=requests[0][1].trace_id,
                    examples=[requests[0][1].trace_id, requests[0][0].trace_id],
                )
            )
        return _by_count(lost), _by_count(untraced), explained

    def _per_caller_and_target(
        self, calls: list[_Call], kind: str, message: str, hint: str
    ) -> list[Finding]:
        """One finding per calling service and route and called address.

        ``message`` is a template of ``service``, ``route``, ``target`` and ``count``.
        """
        groups: dict[tuple[str, str, str], list[_Call]] = {}
        for call in calls:
            key = (call.service, self._caller_route(call), call.target)
            groups.setdefault(key, []).append(call)
        return _by_count(
            Finding(
                kind=kind,
                service=service,
                route=route,
                message=message.format(
                    service=service, route=route, target=clean(target), count=len(group)
                ),
                hint=hint,
                count=len(group),
                example=group[0].trace_id,
            )
            for (service, route, target), group in groups.items()
        )

    def _unmatched(self, calls: list[_Call]) -> list[Finding]:
        return self._per_caller_and_target(
            calls,
            "no downstream start",
            "{service} {route} calls {target} and gets answers, but no request in these logs "
            "names the call as its parent ({count} calls)",
            "the service at that address is not traced, or its log was not given, "
            "or it received the call with no trace context",
        )

    def _withheld(self, calls: list[_Call]) -> list[Finding]:
        return self._per_caller_and_target(
            calls,
            "withheld by propagate_to",
            "{service} {route} sends no trace headers to {target} ({count} calls): "
            "the host is not in propagate_to",
            "add the host to propagate_to if it is one of your traced services",
        )

    def _skew(
        self, offsets: dict[tuple[str, str], list[tuple[float, bool, _Call, _Request]]]
    ) -> list[Finding]:
        found = []
        for (caller, callee), samples in offsets.items():
            outside = [s for s in samples if s[1]]
            if len(outside) < MIN_SHARE * len(samples):
                continue
            offset = statistics.median(s[0] for s in samples)
            if abs(offset) < MIN_SKEW:
                continue
            _, _, call, request = outside[0]
            way = "ahead of" if offset > 0 else "behind"
            found.append(
                Finding(
                    kind="clocks disagree",
                    service=callee,
                    route=request.route,
                    message=(
                        f"{callee}'s clock runs about {abs(offset) * 1000:,.0f} ms {way} "
                        f"{caller}'s: {len(outside)} of {len(samples)} requests of {callee} "
                        f"lie outside the {caller} call that caused them "
                        f"({caller} {self._caller_route(call)} -> {request.route})"
                    ),
                    hint=(
                        "waterfalls across these services are shifted by that much; "
                        "synchronise the clocks (NTP, chrony)"
                    ),
                    count=len(outside),
                    example=call.trace_id,
                )
            )
        return _by_count(found)

    def _changed(self, pairs: list[tuple[_Call, _Request]]) -> list[Finding]:
        groups: dict[tuple[str, str, str, str], list[tuple[_Call, _Request]]] = {}
        for call, request in pairs:
            key = (call.service, self._caller_route(call), request.service, request.route)
            groups.setdefault(key, []).append((call, request))
        return _by_count(
            Finding(
                kind="id changed",
                service=callee,
                route=route,
                message=(
                    f"{callee} {route} continues {caller} {caller_route}'s call under "
                    f"another trace id ({len(group)} times: {clean(group[0][0].trace_id)} "
                    f"became {clean(group[0][1].trace_id)})"
                ),
                hint=(
                    "something between the two rewrites the traceid header, or the caller "
                    "sends a traceid that differs from its traceparent"
                ),
                count=len(group),
                example=group[0][0].trace_id,
                examples=[group[0][0].trace_id, group[0][1].trace_id],
            )
            for (caller, caller_route, callee, route), group in groups.items()
        )


def _start(item: _Request | _Call) -> float:
    return item.start if item.start is not None else 0.0


def _enclosing(calls: list[_Call], starts: list[Any], request: _Request) -> _Call | None:
    """The latest-starting unmatched call of another service that encloses `request`."""
    assert request.start is not None and request.end is not None
    position = bisect.bisect_right(starts, request.start)
    for call in calls[max(0, position - SCAN_LIMIT) : position][::-1]:
        if call.service != request.service and call.end is not None and call.end >= request.end:
            return call
    return None


def _in_flight(busy: list[_Request], starts: list[Any], request: _Request) -> Iterator[_Request]:
    """Requests of other services in progress for the whole of `request` (one per service)."""
    assert request.start is not None and request.end is not None
    position = bisect.bisect_left(starts, request.start)
    seen: set[tuple[str, str]] = set()
    for other in busy[max(0, position - SCAN_LIMIT) : position][::-1]:
        if other.service == request.service or other.end is None or other.end < request.end:
            continue
        key = (other.service, other.route)
        if key not in seen:
            seen.add(key)
            yield other


def _offset(call: _Call, request: _Request) -> tuple[float, bool] | None:
    """The callee's clock offset from the caller's, and whether the request lies outside."""
    if call.start is None or call.end is None or request.start is None or request.end is None:
        return None
    offset = ((request.start - call.start) + (request.end - call.end)) / 2
    return offset, request.start < call.start or request.end > call.end


def _by_count(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.count, f.service, f.route))


def render_findings(findings: list[Finding], events: int) -> str:
    """The report: one paragraph per finding, with an example trace to `show`."""
    if not findings:
        return f"no propagation problems found in {events:,} events"
    lines = [f"{len(findings)} finding{'s' * (len(findings) != 1)} in {events:,} events", ""]
    for finding in findings:
        lines.append(f"[{finding.kind}] {clean(finding.message)}")
        examples = finding.examples or [finding.example]
        lines.append("  example: " + ", ".join(f"trace {clean(e)}" for e in examples))
        lines.append(f"  hint: {clean(finding.hint)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")
