"""traced-http: one trace id through a whole chain of Flask services and their HTTP calls.

Inbound: ``flask_hooks.Tracing(app)``. Outbound: ``traced_http.get(...)`` or a
``TracedSession``. This package imports without Flask: scripts and workers use it too.
"""

from __future__ import annotations

from .adapter import TracingAdapter
from .context import TraceContext, bind, current_trace, current_traceid
from .events import add_event, trace_add_log_record
from .log_format import JsonFormatter, TraceIdFilter
from .session import (
    TracedSession,
    default_session,
    delete,
    get,
    head,
    options,
    patch,
    post,
    put,
    request,
    set_default_session,
)
from .settings import TraceSettings
from .trace_block import trace

__all__ = [
    "JsonFormatter",
    "TraceContext",
    "TraceIdFilter",
    "TraceSettings",
    "TracedSession",
    "TracingAdapter",
    "add_event",
    "bind",
    "current_trace",
    "current_traceid",
    "default_session",
    "delete",
    "get",
    "head",
    "options",
    "patch",
    "post",
    "put",
    "request",
    "set_default_session",
    "trace",
    "trace_add_log_record",
]
__version__ = "0.1.0"
