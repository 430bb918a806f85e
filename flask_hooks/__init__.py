"""flask_hooks: the Flask side of traced-http; ``Tracing(app)`` traces every request.

Inside a request, ``flask.g.traceid`` holds the trace id;
``traced_http.current_trace()`` holds the whole context.
"""

from __future__ import annotations

from flask_hooks.config import TracingConfig
from flask_hooks.extension import Tracing, register_handler

__all__ = ["Tracing", "TracingConfig", "register_handler"]
