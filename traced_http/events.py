"""Writing events: one log record per event, on the ``traced_http`` logger, at INFO.

The hot path builds the event dict once, makes one record (``fast_paths.make_event_record``)
and hands it to ``Logger.handle``, skipping the caller lookup that ``logger.info`` pays for.
Logging must never break the request it describes: a failing handler is reported
through ``logging``'s own last-resort handler, once, and then only every few minutes.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from typing import Any, Optional

from traced_http.context import TraceContext, current_trace
from traced_http.fast_paths import make_event_record
from traced_http.log_format import LOGGER_NAME, EventMessage, iso_utc, jsonable
from traced_http.redaction import Redactor
from traced_http.schema import make_event
from traced_http.settings import DEFAULT_SETTINGS

__all__ = [
    "SpanIds",
    "add_event",
    "describe_failure",
    "emit",
    "enabled",
    "error_info",
    "trace_add_log_record",
]

logger = logging.getLogger(LOGGER_NAME)
_INFO = logging.INFO
_REPORT_EVERY = 300.0
_MESSAGE_LIMIT = 1024
# The (span_id, parent_id) an event is written under, when it is not its context's span:
# a call's own span, and the span it was made in.
SpanIds = tuple[str, Optional[str]]


def enabled() -> bool:
    """False when nothing would log an event: callers then skip building it."""
    return logger.isEnabledFor(_INFO)


def emit(
    ctx: TraceContext,
    event_des: str,
    msg_dict: dict[str, Any],
    remarks: str = "",
    ids: SpanIds | None = None,
    now: float | None = None,
    service: str | None = None,
) -> None:
    """Write one event of ``ctx``; ``ids`` are ``(span_id, parent_id)`` for a call's span.

    ``now``: when it happened, if the caller has just read the clock (a start, an end).
    ``service``: the service to name instead of ``ctx``'s (a session's own name).
    """
    if not logger.isEnabledFor(_INFO):
        return
    if now is None:
        now = time.time()
    span_id, parent_id = ids if ids is not None else (ctx.span_id, ctx.parent_id)
    event = make_event(
        iso_utc(now),
        service or ctx.service,
        ctx.trace_id,
        span_id,
        parent_id,
        ctx.next_index(),
        event_des,
        msg_dict,
        remarks,
    )
    _handle(event, now, ctx.trace_id, span_id)


def _handle(event: dict[str, Any], now: float, trace_id: str | None, span_id: str | None) -> None:
    try:
        # Inside the guard: an application's record factory may raise too.
        record = make_event_record(logger, EventMessage(event), now, trace_id, span_id)
        logger.handle(record)
    except Exception:
        _failures.report()


def error_info(exc: BaseException, redactor: Redactor) -> dict[str, str]:
    """``{"type", "message"}`` of an exception, the message cut to size and redacted.

    Messages repeat what failed: requests' ``...with url: /x?access_token=...``.
    """
    try:
        message = str(exc)
    except Exception:
        message = f"<unprintable {type(exc).__name__}>"
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + "..."
    return {"type": type(exc).__name__, "message": redactor.text(message)}


def add_event(event_des: str, msg_dict: dict[str, Any] | None = None, remarks: str = "") -> None:
    """An intermediate event in the active trace; outside any trace it logs with no id.

    ``msg_dict`` is copied into a JSON-safe, size-bounded form, so a cycle, bytes or a
    huge string never break the line, and secret-named fields are redacted (``remarks``
    too, as free text). Never raises.
    """
    if not logger.isEnabledFor(_INFO):
        return
    ctx = current_trace()
    settings = ctx.settings if ctx is not None else DEFAULT_SETTINGS
    safe = jsonable({} if msg_dict is None else msg_dict, settings.redactor)
    if not isinstance(safe, dict):
        safe = {"value": safe}
    text = remarks if isinstance(remarks, str) else str(jsonable(remarks))
    text = jsonable(text, settings.redactor)  # cut and redacted as any logged string
    if ctx is not None:
        emit(ctx, str(event_des), safe, text)
    else:
        now = time.time()
        event = make_event(iso_utc(now), None, None, None, None, None, str(event_des), safe, text)
        _handle(event, now, None, None)


trace_add_log_record = add_event


def describe_failure(what: str, exc: BaseException) -> dict[str, Any]:
    """Stand-in for a message that could not be built; the failure is reported.

    Tracing must never fail the request it describes: the event is still written, with
    what went wrong, and the traceback goes to the ``traced_http.internal`` logger
    (at most every few minutes).
    """
    _internal.report(what, exc)
    return {"capture_error": {"type": type(exc).__name__, "while": what}}


class _Throttle:
    """Lets a report of each kind through at most every few minutes; counts the rest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """None to stay silent; else how many reports of this kind were held back."""
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(kind, -_REPORT_EVERY) < _REPORT_EVERY:
                self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._suppressed.pop(kind, 0)


class _InternalErrors:
    """Reports a failure of the library itself at ERROR, at most every few minutes a kind."""

    def __init__(self) -> None:
        self._throttle = _Throttle()

    def report(self, what: str, exc: BaseException) -> None:
        if self._throttle.allow(what) is None:
            return
        try:
            logging.getLogger(LOGGER_NAME + ".internal").error(
                "traced_http could not build the %s; the event was written without it "
                "(reported at most every %d s)",
                what,
                int(_REPORT_EVERY),
                exc_info=(type(exc), exc, exc.__traceback__),
            )
        except Exception:
            # The report goes through the application's handlers, which may fail too.
            _failures.report()


_internal = _InternalErrors()


class _FailureReporter:
    """Reports handler failures once, then at most every few minutes with a count."""

    def __init__(self) -> None:
        self._throttle = _Throttle()

    def report(self) -> None:
        suppressed = self._throttle.allow("handler")
        if suppressed is None:
            return
        handler = logging.lastResort
        if handler is None:
            return
        more = f" ({suppressed} more failures since the last report)" if suppressed else ""
        record = logging.LogRecord(
            LOGGER_NAME,
            logging.ERROR,
            __file__,
            0,
            "traced_http: a log handler failed while writing an event; events are being "
            "lost. Reported once, then at most every %d s%s.",
            (int(_REPORT_EVERY), more),
            sys.exc_info(),
        )
        try:
            handler.handle(record)
        except Exception:
            # If the last resort fails too, there is nothing left to report to.
            with contextlib.suppress(Exception):
                handler.handleError(record)


_failures = _FailureReporter()
