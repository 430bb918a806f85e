"""Fold events into spans: one `Span` per (trace id, span id).

A span's facts arrive in pieces and in any order (start, end, call hops, retries, user
events, from several services' logs), so each event only fills in what it knows. A span
seen only through its end, or only through a retry, is still a span: the viewer shows
what the logs say rather than dropping it. A Celery task's `publish` is a span like a
call, and each execution of the task a span like a request, with its time in the queue.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from traced_http import schema
from traced_http.schema import CALL, JOB, PUBLISH, REQUEST, TASK, UNKNOWN
from traced_http.viewer.fields import integer, number, path_of, text
from traced_http.viewer.times import parse_iso

Event = dict[str, Any]


@dataclass(frozen=True)
class ErrorInfo:
    """An exception recorded on an `end` or `call` event."""

    type: str
    message: str


@dataclass
class Annotation:
    """An instant on a span: a `retry` of a call, or a user event of a request."""

    kind: str  # "retry" or "event"
    name: str
    time: float | None
    service: str
    details: dict[str, Any]
    index: int | None = None


@dataclass
class Span:
    """One request, job or outbound call hop, as far as the logs tell."""

    trace_id: str
    span_id: str
    parent_id: str | None = None
    kind: str = UNKNOWN
    service: str = "?"
    method: str | None = None
    url: str | None = None
    path: str | None = None
    name: str | None = None
    queue: str | None = None
    attempt: int | None = None
    state: str | None = None
    queue_time: float | None = None
    start: float | None = None
    duration: float | None = None
    status: int | None = None
    error: ErrorInfo | None = None
    has_start: bool = False
    has_end: bool = False
    first_index: int | None = None
    annotations: list[Annotation] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @property
    def end(self) -> float | None:
        """When the span finished, if both its start and duration are known (and finite)."""
        if self.start is None or self.duration is None:
            return None
        end = self.start + self.duration
        return end if math.isfinite(end) else None

    @property
    def failed(self) -> bool:
        """An exception was recorded or the status is a server error."""
        return schema.failed(self.error, self.status)

    @property
    def label(self) -> str:
        """What the span was, as a person would say it: `GET /test`, `call GET http://...`."""
        method = self.method or "?"
        if self.kind == CALL:
            return f"call {method} {self.url or '?'}"
        if self.kind == JOB:
            return f"job {self.name or '?'}"
        if self.kind == PUBLISH:
            return f"publish {self.name or '?'} → {self.queue or '?'}"
        if self.kind == TASK:
            again = f" (attempt {self.attempt})" if self.attempt and self.attempt > 1 else ""
            return f"task {self.name or '?'}{again}"
        if self.kind == REQUEST:
            return f"{method} {self.path or self.url or '?'}"
        return "span (only events seen)"

    @property
    def sort_time(self) -> float | None:
        """The time used to order siblings: the start, else the first annotation."""
        if self.start is not None:
            return self.start
        times = [a.time for a in self.annotations if a.time is not None]
        return min(times) if times else None


def _error(value: Any) -> ErrorInfo | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return ErrorInfo(text(value.get("type")) or "error", str(value.get("message", "")))
    return ErrorInfo("error", str(value))


def _apply_task(span: Span, msg: dict[str, Any]) -> None:
    """What a task's message says of it: name, queue, attempt (else what was known)."""
    span.name = text(msg.get("task")) or span.name
    span.queue = text(msg.get("queue")) or span.queue
    span.attempt = integer(msg.get("attempt")) or span.attempt


def _apply_target(span: Span, msg: dict[str, Any]) -> None:
    """Where a request or call went: its method and URL."""
    span.method = text(msg.get("method"))
    span.url = text(msg.get("url"))


def _apply_outcome(span: Span, msg: dict[str, Any]) -> None:
    """How a request, job, task or call ended: its duration, status and error."""
    span.duration = number(msg.get("cost_time"))
    span.status = integer(msg.get("status_code"))
    span.error = _error(msg.get("error"))


def _apply_one_event_span(span: Span, kind: str, msg: dict[str, Any]) -> None:
    """A call or a publish: one event is the whole span."""
    span.kind = kind
    span.has_start = span.has_end = True
    span.start = number(msg.get("start_time"))


def _apply_start(span: Span, msg: dict[str, Any]) -> None:
    span.has_start = True
    span.kind = schema.start_kind(msg)
    if span.kind == TASK:
        _apply_task(span, msg)
    elif span.kind == JOB:
        span.name = text(msg.get("name")) or str(msg.get("name"))
    else:
        _apply_target(span, msg)
        span.path = path_of(msg)
    span.start = number(msg.get("start_time")) if span.start is None else span.start


def _apply_end(span: Span, msg: dict[str, Any]) -> None:
    span.has_end = True
    kind = schema.end_kind(msg)
    if kind == TASK:
        span.kind = TASK
        _apply_task(span, msg)
        span.state = text(msg.get("state"))
    elif span.kind == UNKNOWN:
        span.kind = kind
        if span.kind == JOB:
            span.name = text(msg.get("name"))
    _apply_outcome(span, msg)
    end_time = number(msg.get("end_time"))
    if span.start is None and end_time is not None and span.duration is not None:
        span.start = end_time - span.duration


def _apply_call(span: Span, msg: dict[str, Any]) -> None:
    _apply_one_event_span(span, CALL, msg)
    _apply_target(span, msg)
    _apply_outcome(span, msg)


def _apply_publish(span: Span, msg: dict[str, Any]) -> None:
    _apply_one_event_span(span, PUBLISH, msg)
    _apply_task(span, msg)
    span.duration = number(msg.get("cost_time"))


def _annotate(span: Span, event: Event, kind: str) -> None:
    msg: dict[str, Any] = event["msg_dict"]
    stamp = text(event.get("ts"))
    span.annotations.append(
        Annotation(
            kind=kind,
            name=event["event_des"] if kind == "event" else "retry",
            time=parse_iso(stamp) if stamp else None,
            service=event["service"],
            details=msg,
            index=integer(event.get("trace_index")),
        )
    )
    if kind == "retry" and span.kind == UNKNOWN:
        # The retried call's own event is missing: what the retry says is all we have.
        span.kind = CALL
        _apply_target(span, msg)


def apply_event(span: Span, event: Event) -> None:
    """Fold one event (already checked by the reader) into its span."""
    span.events.append(event)
    if span.parent_id is None:
        span.parent_id = event.get("parent_id")
    index = integer(event.get("trace_index"))
    if index is not None and (span.first_index is None or index < span.first_index):
        span.first_index = index
    kind = event["event_des"]
    msg: dict[str, Any] = event["msg_dict"]
    if kind == schema.PUBLISH and not schema.is_task_publish(kind, msg):
        kind = "user event"  # an application's own event that happens to be named so
    if kind in schema.SPAN_EVENTS:
        span.service = event["service"]
    if kind == schema.START:
        _apply_start(span, msg)
    elif kind == schema.END:
        _apply_end(span, msg)
    elif kind == schema.CALL:
        _apply_call(span, msg)
    elif kind == schema.PUBLISH:
        _apply_publish(span, msg)
    elif kind == schema.RETRY:
        _annotate(span, event, "retry")
    else:
        if span.service == "?":
            span.service = event["service"]
        _annotate(span, event, "event")


def collect_spans(events: Iterable[Event]) -> dict[tuple[str, str], Span]:
    """Group events into spans keyed by (trace id, span id)."""
    spans: dict[tuple[str, str], Span] = {}
    for event in events:
        key = (event["traceid"], event["span_id"])
        span = spans.get(key)
        if span is None:
            span = spans[key] = Span(trace_id=key[0], span_id=key[1])
        apply_event(span, event)
    for span in spans.values():
        span.annotations.sort(key=_annotation_order)
        if span.kind == TASK and span.parent_id is not None:
            _set_queue_time(span, spans.get((span.trace_id, span.parent_id)))
    return spans


def _set_queue_time(task: Span, sent: Span | None) -> None:
    """A task's time in the queue: from its publish's start to its own start."""
    if sent is None or sent.kind != PUBLISH or sent.start is None or task.start is None:
        return
    task.queue_time = max(0.0, task.start - sent.start)


def _annotation_order(annotation: Annotation) -> tuple[float, int]:
    time = annotation.time if annotation.time is not None else float("inf")
    return (time, annotation.index if annotation.index is not None else 0)
