"""Celery integration: tasks continue the trace of whoever sent them.

``instrument(celery_app)`` connects handlers to Celery's documented signals; nothing
of Celery is patched. Sending a task inside a trace writes a ``publish`` event (a child
span of the sender) and puts ``traceparent`` / ``tracestate`` / ``traceid`` in the
message headers. Each execution in the worker is a span of its own, a child of the
publish, with ``start`` and ``end`` events; a task sent outside any trace starts a root
trace. A retry is published from inside the failing attempt, so attempts chain up.

The execution's span id is derived from the task id and attempt, so the worker's main
process can write the ``end`` of a task whose pool process was killed (a revoke with
``terminate=True``, a hard time limit) in the span that process opened.
"""

from __future__ import annotations

import contextvars
import datetime
import hashlib
import sys
import time
import types
import weakref
from collections import OrderedDict
from typing import Any

from traced_http.context import TraceContext, activate, current_trace, deactivate
from traced_http.events import emit, enabled, error_info
from traced_http.ids import new_span_id, new_trace_id
from traced_http.propagation import InboundHeaders, is_w3c_trace_id
from traced_http.schema import END, PUBLISH, START
from traced_http.settings import DEFAULT_SETTINGS, TraceSettings

__all__ = ["instrument"]

_INBOUND = InboundHeaders(("traceparent", "traceid"))
_UID = "traced_http.celery"

# Settings (service name, redaction...) of each instrumented app, for its workers' spans.
_apps: weakref.WeakKeyDictionary[Any, TraceSettings] = weakref.WeakKeyDictionary()
# The send in progress in this thread: (task id, publish span, sender trace, start time).
_sending: contextvars.ContextVar[tuple[str, str, TraceContext, float] | None] = (
    contextvars.ContextVar("traced_http_celery_sending", default=None)
)


class _Execution:
    """One task execution in progress: its trace, what to restore, what the end will say."""

    __slots__ = ("ctx", "error", "msg", "retry_in", "start", "token")

    def __init__(self, ctx: TraceContext, msg: dict[str, Any], start: float) -> None:
        self.ctx = ctx
        self.msg = msg
        self.start = start
        self.token = activate(ctx)
        self.error: dict[str, str] | None = None
        self.retry_in: float | None = None


_running: dict[str, _Execution] = {}
# What the worker's main process knows of the tasks it handed to its pool, for the end of
# one whose process it killed on a hard time limit; bounded, the oldest forgotten first.
_received: OrderedDict[str, types.SimpleNamespace] = OrderedDict()
_RECEIVED_LIMIT = 4096


def instrument(
    celery_app: Any, *, service: str | None = None, settings: TraceSettings | None = None
) -> None:
    """Trace the tasks of ``celery_app``: sent ones carry the trace, executed ones continue it.

    ``service`` names the worker's events (default: the service of ``settings`` if they
    name one, else the app's ``main`` name, else ``OTEL_SERVICE_NAME``, else ``"python"``).
    ``settings`` are those of the worker's spans and of the calls its tasks make. Calling
    it again replaces the app's settings; handlers connect once.
    """
    from celery import signals

    base = settings or DEFAULT_SETTINGS
    name = service or (settings.service if settings else None) or celery_app.main
    _apps[celery_app] = base.replace(service=name) if name and name != base.service else base
    for signal, handler in (
        (signals.before_task_publish, _before_publish),
        (signals.after_task_publish, _after_publish),
        (signals.task_received, _on_received),
        (signals.task_prerun, _prerun),
        (signals.task_retry, _retry),
        (signals.task_failure, _failure),
        (signals.task_postrun, _postrun),
        (signals.task_revoked, _revoked),
    ):
        signal.connect(handler, weak=False, dispatch_uid=f"{_UID}.{handler.__name__}")


def _settings_of(task: Any) -> TraceSettings | None:
    """The settings of the app ``task`` belongs to, or None when that app is not instrumented."""
    try:
        return _apps.get(getattr(task, "app", None))
    except TypeError:  # no app, or one that cannot be weakly referenced
        return None


def _before_publish(sender: Any = None, headers: dict[str, Any] | None = None, **_: Any) -> None:
    ctx = current_trace()
    if ctx is None or headers is None or "id" not in headers:
        return  # outside any trace: the worker starts a root trace of its own
    span = new_span_id()
    ctx.settings.outbound.inject(headers, ctx.trace_id, span, ctx.flags, ctx.tracestate)
    _sending.set((headers["id"], span, ctx, time.time()))


def _after_publish(
    sender: Any = None,
    headers: dict[str, Any] | None = None,
    routing_key: str | None = None,
    **_: Any,
) -> None:
    sending = _sending.get()
    if sending is None or headers is None or headers.get("id") != sending[0]:
        return
    _sending.set(None)
    task_id, span, ctx, start = sending
    msg: dict[str, Any] = {
        "task": headers.get("task", sender),
        "task_id": task_id,
        "queue": routing_key,
        "start_time": start,
        "cost_time": time.time() - start,
    }
    if headers.get("retries"):
        msg["attempt"] = headers["retries"] + 1
    if headers.get("eta"):
        msg["eta"] = headers["eta"]
    emit(ctx, PUBLISH, msg, ids=(span, ctx.span_id))


def _execution_span(task_id: str, attempt: int) -> str:
    """The span id of one attempt of a task: the same in every process that computes it."""
    return hashlib.blake2b(f"{task_id}:{attempt}".encode(), digest_size=8).hexdigest()


def _task_context(request: Any, settings: TraceSettings, attempt: int) -> TraceContext:
    """The trace an execution continues: the message's headers, else the caller's, else new."""
    task_id = str(request.id)
    span = _execution_span(task_id, attempt)
    headers = {}
    for name, key in (
        ("traceparent", "HTTP_TRACEPARENT"),
        ("traceid", "HTTP_TRACEID"),
        ("tracestate", "HTTP_TRACESTATE"),
    ):
        value = getattr(request, name, None)
        if isinstance(value, str):
            headers[key] = value
    if headers:
        incoming = _INBOUND.extract(headers)
        if incoming.source != "generated":
            return TraceContext.continuing(incoming, span, settings)
    caller = current_trace()
    if caller is not None:  # run in the caller's own process (eager mode, apply())
        return TraceContext(
            trace_id=caller.trace_id,
            span_id=span,
            parent_id=caller.span_id,
            flags=caller.flags,
            tracestate=caller.tracestate,
            settings=settings,
        )
    # A root trace; its id is the task id's when that is a UUID, so that every process
    # that sees the task (the worker's main process too) names the same trace.
    hexid = task_id.replace("-", "").lower()
    trace_id = hexid if is_w3c_trace_id(hexid) else new_trace_id()
    return TraceContext(trace_id=trace_id, span_id=span, settings=settings)


def _queue(request: Any) -> str | None:
    info = getattr(request, "delivery_info", None) or {}
    queue = info.get("routing_key") if isinstance(info, dict) else None
    return queue if isinstance(queue, str) else None


def _task_message(task_name: str, request: Any) -> tuple[dict[str, Any], int]:
    attempt = (getattr(request, "retries", 0) or 0) + 1
    msg: dict[str, Any] = {
        "task": task_name,
        "task_id": str(request.id),
        "queue": _queue(request),
        "attempt": attempt,
    }
    return msg, attempt


def _prerun(sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
    task = task or sender
    settings = _settings_of(task)
    if settings is None or task_id is None:
        return
    request = task.request
    msg, attempt = _task_message(task.name, request)
    ctx = _task_context(request, settings, attempt)
    start = time.time()
    execution = _Execution(ctx, msg, start)
    _running[str(task_id)] = execution
    if enabled():
        eta = getattr(request, "eta", None)
        emit(ctx, START, {**msg, "start_time": start, **({"eta": eta} if eta else {})}, now=start)


def _on_received(sender: Any = None, request: Any = None, **_: Any) -> None:
    task = getattr(request, "task", None)
    if task is None or _settings_of(task) is None:
        return
    fields = request.request_dict
    _received[str(request.id)] = types.SimpleNamespace(
        name=task.name,
        id=request.id,
        retries=fields.get("retries", 0),
        delivery_info=fields.get("delivery_info"),
        **{name: fields.get(name) for name in ("traceparent", "traceid", "tracestate")},
    )
    if len(_received) > _RECEIVED_LIMIT:
        _received.popitem(last=False)


def _failure(
    sender: Any = None, task_id: Any = None, exception: BaseException | None = None, **_: Any
) -> None:
    if exception is None:
        return
    execution = _running.get(str(task_id))
    if execution is not None:
        execution.error = error_info(exception, execution.ctx.settings.redactor)
        return
    # Not running here: the main process reporting a child it killed (hard time limit).
    request = _received.pop(str(task_id), None)
    settings = _settings_of(sender)
    if request is not None and settings is not None:
        msg, attempt = _task_message(request.name, request)
        ctx = _task_context(request, settings, attempt)
        _end(ctx, msg, None, "FAILURE", error_info(exception, settings.redactor))


def _retry(sender: Any = None, request: Any = None, reason: Any = None, **_: Any) -> None:
    execution = _running.get(str(getattr(request, "id", None)))
    if execution is None:
        return
    when = getattr(reason, "when", None)
    if isinstance(when, (int, float)):
        execution.retry_in = float(when)
    elif isinstance(when, datetime.datetime):
        now = datetime.datetime.now(when.tzinfo)
        execution.retry_in = max(0.0, (when - now).total_seconds())
    exc = getattr(reason, "exc", None)
    if isinstance(exc, BaseException) and execution.error is None:
        execution.error = error_info(exc, execution.ctx.settings.redactor)


def _postrun(sender: Any = None, task_id: Any = None, state: Any = None, **_: Any) -> None:
    _received.pop(str(task_id), None)
    execution = _running.pop(str(task_id), None)
    if execution is None:
        return
    error = execution.error
    if state is None:  # a BaseException went through the task: a signal, a shutdown
        state = "INTERRUPTED"
        interruption = sys.exc_info()[1]
        if error is None and interruption is not None:
            error = error_info(interruption, execution.ctx.settings.redactor)
    try:
        _end(execution.ctx, execution.msg, execution.start, state, error, execution.retry_in)
    finally:
        deactivate(execution.token)


def _end(
    ctx: TraceContext,
    msg: dict[str, Any],
    start: float | None,
    state: Any,
    error: dict[str, str] | None,
    retry_in: float | None = None,
) -> None:
    end = time.time()
    done: dict[str, Any] = {**msg, "state": str(state), "end_time": end}
    if start is not None:
        done["cost_time"] = end - start
    if error is not None:
        done["error"] = error
    if retry_in is not None:
        done["retry_in"] = retry_in
    emit(ctx, END, done, now=end)


def _revoked(
    sender: Any = None,
    request: Any = None,
    terminated: bool = False,
    expired: bool = False,
    **_: Any,
) -> None:
    """A revoked task: a terminated one gets its end; one never run gets a start and an end.

    With the prefork pool this runs in the worker's main process, not in the child
    that ran the task: the span is found again from the task id and attempt.
    """
    settings = _settings_of(sender)
    if settings is None or request is None or getattr(request, "id", None) is None:
        return
    _received.pop(str(request.id), None)
    msg, attempt = _task_message(getattr(sender, "name", "?"), request)
    ctx = _task_context(request, settings, attempt)
    start = None
    if not terminated:  # discarded before it ran: its span has a start too
        start = time.time()
        emit(ctx, START, {**msg, "start_time": start}, now=start)
    reason = {
        "type": "Expired" if expired else "Revoked",
        "message": "terminated" if terminated else "not run",
    }
    _end(ctx, {**msg, "terminated": bool(terminated)}, start, "REVOKED", reason)
