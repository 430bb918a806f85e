"""Events -> OpenTelemetry spans: what a span says is what the log lines say.

A request (``start`` ... ``end``) is a SERVER span, a ``call`` a CLIENT span, a
``traced.trace()`` block an INTERNAL span; ``add_event`` events become span events of the
span they were written in, and ``retry`` events span events of their call. Ids are the
log's ids (a plain trace id is exported as its derived W3C id, ``w3c_trace_id``), and
attributes follow OpenTelemetry's stable HTTP semantic conventions. Everything comes from
the events, which are already redacted: nothing else is read.

The assembler keeps the spans that have started and not ended, up to a bound; it is fed
by one thread at a time (the exporter's worker, or the offline command).
"""

from __future__ import annotations

import calendar
import functools
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

from traced_http.propagation import w3c_trace_id
from traced_http.schema import CALL, END, RETRY, START

__all__ = ["SpanAssembler", "base_resource", "resource_for"]

Event = dict[str, Any]

MAX_OPEN_SPANS = 4096
MAX_SPAN_EVENTS = 128
_ATTRIBUTE_LIMIT = 4096
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCOPE = InstrumentationScope("traced_http")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
# HTTP semantic conventions: a server span fails on a 5xx answer, a client span on 4xx too.
_SERVER_ERRORS = 500
_CLIENT_ERRORS = 400
_TS_FIELDS = ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19))
_resources: dict[str, Resource] = {}


def resource_for(service: str) -> Resource:
    """The resource of a service's spans: ``service.name`` is the events' service.

    The SDK's own attributes and ``OTEL_RESOURCE_ATTRIBUTES`` are read once
    (``base_resource``); the service name given here wins over ``OTEL_SERVICE_NAME``, so
    span and log line agree.
    """
    resource = _resources.get(service)
    if resource is None:
        if len(_resources) >= 256:
            _resources.clear()
        resource = base_resource().merge(Resource({"service.name": service}))
        _resources[service] = resource
    return resource


def base_resource() -> Resource:
    """What ``Resource.create`` detects, once per process.

    Called where starting threads is allowed (``start_export``): the SDK's detectors run
    in a thread pool, which cannot start during interpreter shutdown.
    """
    global _base
    if _base is None:
        _base = Resource.create({})
    return _base


_base: Resource | None = None


class _Partial:
    """A span seen in part: its start, its end (or call), and the events written in it."""

    __slots__ = ("end", "events", "start")

    def __init__(self) -> None:
        self.start: Event | None = None
        self.end: Event | None = None
        self.events: list[Event] = []


class SpanAssembler:
    """Feed events in the order one service wrote them; get each span as it completes.

    ``dropped`` counts spans pushed out unfinished when more than ``max_open`` were open
    (a start whose end never came), ``orphans`` events whose span was not open.
    """

    def __init__(self, max_open: int = MAX_OPEN_SPANS) -> None:
        self._open: dict[tuple[str, str], _Partial] = {}
        self._max_open = max_open
        self.dropped = 0
        self.orphans = 0

    @property
    def open_spans(self) -> int:
        """Spans started and not yet ended (requests in flight, calls being retried)."""
        return len(self._open)

    def add(self, event: Event) -> ReadableSpan | None:
        """Take one event; return the span it completes, if it completes one."""
        trace_id = event.get("traceid")
        span_id = event.get("span_id")
        if not isinstance(trace_id, str) or not isinstance(span_id, str):
            return None  # add_event outside any trace: it belongs to no span
        kind = event.get("event_des")
        key = (trace_id, span_id)
        if kind == CALL:
            partial = self._open.pop(key, None)
            retries = partial.events if partial is not None else []
            return client_span(event, retries)
        if kind in (START, END, RETRY):
            partial = self._open.get(key)
            if partial is None:
                partial = self._opened(key)
            if kind == RETRY:
                if len(partial.events) < MAX_SPAN_EVENTS:
                    partial.events.append(event)
                return None
            if kind == START:
                partial.start = event
            else:
                partial.end = event
            if partial.start is None or partial.end is None:
                return None
            del self._open[key]
            return local_span(partial.start, partial.end, partial.events)
        partial = self._open.get(key)
        if partial is None or partial.start is None:
            self.orphans += 1
        elif len(partial.events) < MAX_SPAN_EVENTS:
            partial.events.append(event)
        return None

    def _opened(self, key: tuple[str, str]) -> _Partial:
        if len(self._open) >= self._max_open:
            del self._open[next(iter(self._open))]  # the oldest: insertion order
            self.dropped += 1
        partial = self._open[key] = _Partial()
        return partial

    def unfinished(self) -> list[ReadableSpan]:
        """At the end of an input: spans whose end was read without their start.

        (Their start is in a file not given.) Spans started and never ended stay out:
        how long they lasted is unknown. Empties the assembler.
        """
        spans = []
        for partial in self._open.values():
            if partial.end is not None and partial.end.get("event_des") == END:
                spans.append(local_span(None, partial.end, partial.events))
            else:
                self.dropped += 1
        self._open.clear()
        return spans


def local_span(start: Event | None, end: Event, events: list[Event]) -> ReadableSpan:
    """The span of a request (SERVER) or of a ``traced.trace()`` block (INTERNAL)."""
    first = start if start is not None else end
    opened: Mapping[str, Any] = _msg(start) if start is not None else {}
    closed = _msg(end)
    end_ns = _seconds_ns(closed.get("end_time")) or _ts_ns(end.get("ts"))
    start_ns = _seconds_ns(opened.get("start_time"))
    if start_ns is None:
        cost = closed.get("cost_time")
        start_ns = end_ns - (_seconds_ns(cost) or 0)
    span_events = [_span_event(e) for e in events]
    attributes: dict[str, Any] = {}
    error = closed.get("error")
    status = Status(StatusCode.UNSET)
    is_request = "method" in opened or ("name" not in opened and "name" not in closed)
    if is_request:
        kind = SpanKind.SERVER
        method = _method(opened.get("method"), attributes)
        url = opened.get("url")
        if isinstance(url, str):
            _url_attributes(url, attributes, server=True)
        _put(attributes, "url.path", opened.get("path"))
        route = opened.get("route")
        _put(attributes, "http.route", route)
        _put(attributes, "client.address", opened.get("remote_addr"))
        headers = opened.get("headers")
        if isinstance(headers, dict):
            _put(attributes, "user_agent.original", headers.get("User-Agent"))
        status = _status_code(closed.get("status_code"), attributes, _SERVER_ERRORS)
        name = f"{method} {route}" if isinstance(route, str) and method != "HTTP" else method
    else:
        kind = SpanKind.INTERNAL
        name = str(opened.get("name") or closed.get("name") or "trace")
    if isinstance(error, dict):
        status = _error(error, attributes, span_events, end_ns)
    _trace_attribute(first, attributes)
    return _span(first, name, kind, attributes, span_events, status, start_ns, end_ns)


def client_span(call: Event, retries: list[Event]) -> ReadableSpan:
    """The span of one outbound call (one hop); its retried attempts are its events."""
    msg = _msg(call)
    attributes: dict[str, Any] = {}
    method = _method(msg.get("method"), attributes)
    url = msg.get("url")
    if isinstance(url, str):
        _url_attributes(url, attributes, server=False)
    status = _status_code(msg.get("status_code"), attributes, _CLIENT_ERRORS)
    if retries:
        attributes["http.request.resend_count"] = len(retries)
    start_ns = _seconds_ns(msg.get("start_time"))
    cost = msg.get("cost_time")
    if start_ns is None:
        start_ns = end_ns = _ts_ns(call.get("ts"))
    else:
        end_ns = start_ns + (_seconds_ns(cost) or 0) if isinstance(cost, (int, float)) else start_ns
    span_events = [_span_event(e) for e in retries]
    error = msg.get("error")
    if isinstance(error, dict):
        status = _error(error, attributes, span_events, end_ns)
    _trace_attribute(call, attributes)
    return _span(call, method, SpanKind.CLIENT, attributes, span_events, status, start_ns, end_ns)


def _span(
    event: Event,
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    events: list[SpanEvent],
    status: Status,
    start_ns: int,
    end_ns: int,
) -> ReadableSpan:
    trace_id = int(w3c_trace_id(event["traceid"]), 16)
    context = SpanContext(trace_id, _span_int(event["span_id"]), False, _SAMPLED)
    parent_id = event.get("parent_id")
    parent = None
    if isinstance(parent_id, str) and parent_id:
        # A request's parent is the caller's call span, in another process.
        remote = kind == SpanKind.SERVER
        parent = SpanContext(trace_id, _span_int(parent_id), remote, _SAMPLED)
    service = event.get("service")
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=resource_for(service if isinstance(service, str) and service else "python"),
        attributes=attributes,
        events=events,
        kind=kind,
        status=status,
        start_time=start_ns,
        end_time=max(end_ns, start_ns),
        instrumentation_scope=_SCOPE,
    )


def _span_int(span_id: str) -> int:
    """A span id as the integer OpenTelemetry wants; a foreign id is hashed to 64 bits."""
    if len(span_id) == 16:
        try:
            value = int(span_id, 16)
        except ValueError:
            value = 0
        if value:
            return value
    return int(w3c_trace_id(span_id)[:16], 16) or 1


def _msg(event: Event) -> Mapping[str, Any]:
    msg = event.get("msg_dict")
    return msg if isinstance(msg, dict) else {}


def _method(value: Any, attributes: dict[str, Any]) -> str:
    """``http.request.method``: a known method as is, any other as ``_OTHER`` (span: ``HTTP``)."""
    method = value if isinstance(value, str) else ""
    if method in _KNOWN_METHODS:
        attributes["http.request.method"] = method
        return method
    attributes["http.request.method"] = "_OTHER"
    if method:
        attributes["http.request.method_original"] = method[:_ATTRIBUTE_LIMIT]
    return "HTTP"


def _url_attributes(url: str, attributes: dict[str, Any], server: bool) -> None:
    """``url.full`` (the logged, redacted URL), ``url.scheme``, ``server.address``/``port``."""
    attributes["url.full"] = url[:_ATTRIBUTE_LIMIT]
    parts = url.split("/", 3)  # "http:", "", "host:port", "path?query"
    if len(parts) < 3 or parts[1] or not parts[0].endswith(":"):
        return
    scheme = parts[0][:-1]
    attributes["url.scheme"] = scheme
    host, port = _host_port(parts[2])
    if host:
        attributes["server.address"] = host[:_ATTRIBUTE_LIMIT]
        if port is None and not server:
            port = _DEFAULT_PORTS.get(scheme)
        if port is not None:
            attributes["server.port"] = port
    if server:
        query = url.partition("?")[2].partition("#")[0]
        if query:
            attributes["url.query"] = query[:_ATTRIBUTE_LIMIT]


@functools.lru_cache(maxsize=256)
def _host_port(netloc: str) -> tuple[str | None, int | None]:
    """Host and port of a URL's authority; a service sees few of them, so it is cached."""
    try:
        parts = urlsplit("//" + netloc)
        return parts.hostname, parts.port
    except ValueError:
        return None, None


def _status_code(code: Any, attributes: dict[str, Any], failed_from: int) -> Status:
    """``http.response.status_code``; from ``failed_from`` on, ``error.type`` and status ERROR."""
    if not isinstance(code, int):
        return Status(StatusCode.UNSET)
    attributes["http.response.status_code"] = code
    if code < failed_from:
        return Status(StatusCode.UNSET)
    attributes["error.type"] = str(code)
    return Status(StatusCode.ERROR)


def _error(
    error: Mapping[str, Any], attributes: dict[str, Any], events: list[SpanEvent], at: int
) -> Status:
    """An exception: ``error.type``, an ``exception`` event, status ERROR with its message."""
    kind = str(error.get("type") or "Exception")[:_ATTRIBUTE_LIMIT]
    message = str(error.get("message") or "")[:_ATTRIBUTE_LIMIT]
    attributes["error.type"] = kind
    events.append(
        SpanEvent("exception", {"exception.type": kind, "exception.message": message}, timestamp=at)
    )
    return Status(StatusCode.ERROR, f"{kind}: {message}" if message else kind)


def _trace_attribute(event: Event, attributes: dict[str, Any]) -> None:
    """A plain trace id (``req-391``) stays findable: the span carries it as logged."""
    trace_id = event["traceid"]
    if w3c_trace_id(trace_id) != trace_id:
        attributes["traceid"] = trace_id


def _span_event(event: Event) -> SpanEvent:
    """A user event (or a retry): its name, its message's fields as attributes."""
    attributes: dict[str, Any] = {}
    for key, value in _msg(event).items():
        _put_any(attributes, str(key), value)
    remarks = event.get("remarks")
    if isinstance(remarks, str) and remarks:
        attributes["remarks"] = remarks[:_ATTRIBUTE_LIMIT]
    return SpanEvent(str(event.get("event_des")), attributes, timestamp=_ts_ns(event.get("ts")))


def _put(attributes: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, str) and value:
        attributes[key] = value[:_ATTRIBUTE_LIMIT]


def _put_any(attributes: dict[str, Any], key: str, value: Any) -> None:
    """An attribute of any JSON value: scalars as they are, the rest as JSON text."""
    if value is None:
        return
    if isinstance(value, str):
        attributes[key] = value[:_ATTRIBUTE_LIMIT]
    elif isinstance(value, (bool, float)) or (isinstance(value, int) and -(2**63) <= value < 2**63):
        attributes[key] = value
    else:
        attributes[key] = json.dumps(value, default=str)[:_ATTRIBUTE_LIMIT]


def _seconds_ns(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return round(value * 1_000_000) * 1000  # the log's times are microseconds


def _ts_ns(ts: Any) -> int:
    """``2026-06-02T07:31:26.757312Z`` as nanoseconds since the epoch (0 if unreadable)."""
    if not isinstance(ts, str) or len(ts) < 19:
        return 0
    try:
        fields = [int(ts[a:b]) for a, b in _TS_FIELDS]
        seconds = calendar.timegm((*fields, 0, 0, 0))
        fraction = ts[20:].rstrip("Z")[:9] if len(ts) > 20 and ts[19] == "." else ""
        nanos = int(fraction.ljust(9, "0")) if fraction.isdigit() else 0
    except ValueError:
        return 0
    return seconds * 1_000_000_000 + nanos
