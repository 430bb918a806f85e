"""traced-http: one trace id through a whole chain of Flask services and their HTTP calls.

Inbound: ``flask_hooks.Tracing(app)``. Outbound: ``traced_http.get(...)`` or a
``TracedSession``. This package imports without Flask: scripts and workers use it too.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from traced_http.context import TraceContext, bind, current_trace, current_traceid
from traced_http.events import add_event, trace_add_log_record
from traced_http.log_format import JsonFormatter, TraceIdFilter
from traced_http.settings import TraceSettings
from traced_http.trace_block import trace

if TYPE_CHECKING:
    from traced_http.adapter import TracingAdapter
    from traced_http.executors import ThreadPoolExecutor
    from traced_http.session import (
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

# The outbound side imports requests (a tenth of a second): it loads on first use, so
# that the viewer command and a worker that only logs start fast.
_OUTBOUND = {
    "TracingAdapter": "adapter",
    "ThreadPoolExecutor": "executors",
    **dict.fromkeys(
        (
            "TracedSession",
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
        ),
        "session",
    ),
}


def __getattr__(name: str) -> Any:
    module = _OUTBOUND.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "JsonFormatter",
    "ThreadPoolExecutor",
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
