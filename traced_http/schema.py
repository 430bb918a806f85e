"""The event schema: the fields of an event line, the kinds of event and of span, failure.

The one place these are decided. The writer (``events``, ``log_format``) builds events
with ``make_event``; the viewer and the OTLP export read them with the helpers below, so
"is this a job, a task or a request" and "did it fail" have one answer everywhere.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CALL",
    "END",
    "FIELDS",
    "JOB",
    "PUBLISH",
    "REQUEST",
    "RETRY",
    "SPAN_EVENTS",
    "START",
    "TASK",
    "UNKNOWN",
    "end_kind",
    "failed",
    "is_task_publish",
    "make_event",
    "start_kind",
]

# Every event line has these fields, in this order.
FIELDS = (
    "ts",
    "service",
    "traceid",
    "span_id",
    "parent_id",
    "trace_index",
    "event_des",
    "msg_dict",
    "remarks",
)

# Event kinds (``event_des``) the library writes; any other name is a user event.
START = "start"  # a request, job (``traced.trace``) or task began
END = "end"  # it finished, with ``cost_time``, ``status_code`` and ``error`` if any
CALL = "call"  # one outbound hop, finished or failed
RETRY = "retry"  # an outbound attempt that will be retried
PUBLISH = "publish"  # a Celery task sent (its ``msg_dict`` has ``task_id``)
SPAN_EVENTS = (START, END, CALL, PUBLISH)  # the kinds that say what a span is

# Span kinds: what a span records.
REQUEST = "request"
JOB = "job"
TASK = "task"
UNKNOWN = "span"  # seen only through events that do not say (a retry, a user event)


def make_event(
    ts: str,
    service: str | None,
    traceid: str | None,
    span_id: str | None,
    parent_id: str | None,
    trace_index: int | None,
    event_des: str,
    msg_dict: dict[str, Any],
    remarks: str,
) -> dict[str, Any]:
    """One event, its fields in ``FIELDS`` order."""
    return {
        "ts": ts,
        "service": service,
        "traceid": traceid,
        "span_id": span_id,
        "parent_id": parent_id,
        "trace_index": trace_index,
        "event_des": event_des,
        "msg_dict": msg_dict,
        "remarks": remarks,
    }


def failed(error: Any, status: int | None) -> bool:
    """A span failed when an exception was recorded or its status is a server error."""
    return error is not None or (status is not None and status >= 500)


def is_task_publish(event_des: str, msg: dict[str, Any]) -> bool:
    """A ``publish`` the Celery integration wrote (not a user event of that name)."""
    return event_des == PUBLISH and "task_id" in msg


def start_kind(msg: dict[str, Any]) -> str:
    """What a ``start`` event opens: a task, a job (``traced.trace``) or a request."""
    if not isinstance(msg.get("method"), str):
        if "task_id" in msg:
            return TASK
        if "name" in msg:
            return JOB
    return REQUEST


def end_kind(msg: dict[str, Any]) -> str:
    """What an ``end`` event closes: a task, a job or a request."""
    if "task_id" in msg:
        return TASK
    return JOB if "name" in msg and "status_code" not in msg else REQUEST
