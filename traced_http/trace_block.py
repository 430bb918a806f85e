"""``traced.trace()``: a root trace for a job or a script, with start and end events."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from traced_http.context import TraceContext, activate, deactivate
from traced_http.events import emit, error_info
from traced_http.ids import new_span_id
from traced_http.propagation import Incoming
from traced_http.schema import END, START
from traced_http.settings import DEFAULT_SETTINGS, TraceSettings

__all__ = ["trace"]


@contextmanager
def trace(
    name: str,
    traceid: str | None = None,
    *,
    service: str | None = None,
    settings: TraceSettings | None = None,
) -> Iterator[TraceContext]:
    """Open a trace for a block of work outside any request (a job, a script).

    ``traceid`` continues a given trace: a plain id or a ``traceparent`` value (whose
    span becomes this block's parent). An invalid one is replaced by a new id, and the
    start event says so. Calls made inside are child spans of this block.
    ``service`` names the block's service; when nothing names it, a session's own
    ``service=`` names its calls, and the block's events take ``OTEL_SERVICE_NAME``, else
    ``"python"``.
    """
    settings = settings or DEFAULT_SETTINGS
    if service is not None:
        settings = settings.replace(service=service)
    incoming = Incoming.given(traceid)
    msg: dict[str, Any] = {"name": name}
    if incoming.rejected:
        msg["rejected_headers"] = list(incoming.rejected)
    ctx = TraceContext.continuing(incoming, new_span_id(), settings)
    start = time.time()
    msg["start_time"] = start
    msg["id_source"] = incoming.source
    token = activate(ctx)
    emit(ctx, START, msg)
    error: BaseException | None = None
    try:
        yield ctx
    except BaseException as exc:
        error = exc
        raise
    finally:
        end = time.time()
        done: dict[str, Any] = {"name": name, "end_time": end, "cost_time": end - start}
        if error is not None:
            done["error"] = error_info(error, settings.redactor)
        emit(ctx, END, done)
        deactivate(token)
