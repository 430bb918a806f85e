"""structlog integration: the trace on every log entry, and traced-http's events as JSON.

``add_trace_context`` is a structlog processor: put it in
``structlog.configure(processors=[...])`` before the renderer. ``unpack_event`` goes in a
``structlog.stdlib.ProcessorFormatter``'s ``foreign_pre_chain`` so that traced-http's own
events become the rendered dict itself, not a JSON string inside one. Neither imports
structlog: this module loads, and costs nothing, where structlog is not installed.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from traced_http.context import current_trace
from traced_http.log_format import EventMessage

__all__ = ["add_trace_context", "unpack_event"]

EventDict = MutableMapping[str, Any]


def add_trace_context(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """Add ``traceid``, ``span_id`` and ``service`` of the active trace.

    Values the caller set (``log.bind(traceid=...)``) win; outside any trace the entry
    is left as it is.
    """
    ctx = current_trace()
    if ctx is not None:
        event_dict.setdefault("traceid", ctx.trace_id)
        event_dict.setdefault("span_id", ctx.span_id)
        event_dict.setdefault("service", ctx.service)
    return event_dict


def unpack_event(logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
    """For a traced-http event record, replace the entry with the event's own fields.

    ``event`` becomes the ``event_des`` (``start``, ``call``...); every field of the
    event (``traceid``, ``msg_dict``...) is a key of its own, so a JSON renderer writes
    it once. Any other record passes through untouched.
    """
    record = event_dict.get("_record")
    message = getattr(record, "msg", None)
    if isinstance(message, EventMessage):
        event_dict.update(message.event)
        event_dict["event"] = message.event.get("event_des")
    return event_dict
