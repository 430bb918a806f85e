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

if TYPE_CHECKING:  # "as" marks each one exported: __all__ names them only through _OUTBOUND
    from traced_http.adapter import TracingAdapter as TracingAdapter
    from traced_http.executors import ThreadPoolExecutor as ThreadPoolExecutor
    from traced_http.session import TracedSession as TracedSession
    from traced_http.session import default_session as default_session
    from traced_http.session import delete as delete
    from traced_http.session import get as get
    from traced_http.session import head as head
    from traced_http.session import options as options
    from traced_http.session import patch as patch
    from traced_http.session import post as post
    from traced_http.session import put as put
    from traced_http.session import request as request
    from traced_http.session import set_default_session as set_default_session

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
    "TraceContext",
    "TraceIdFilter",
    "TraceSettings",
    "add_event",
    "bind",
    "current_trace",
    "current_traceid",
    "trace",
    "trace_add_log_record",
    *_OUTBOUND,
]
__version__ = "0.1.0"
