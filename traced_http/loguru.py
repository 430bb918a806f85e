"""loguru integration: the active trace in every record's ``extra``.

``logger.configure(patcher=add_trace_context)``, then ``{extra[traceid]}`` in a format
or ``serialize=True`` carry the trace. This module does not import loguru: it loads,
and costs nothing, where loguru is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traced_http.context import current_trace

__all__ = ["add_trace_context"]


def add_trace_context(record: Mapping[str, Any]) -> None:
    """Add ``traceid``, ``span_id`` and ``service`` to ``record["extra"]``; ``bind()`` values win.

    Outside any trace the three keys are still set, to None, so a format string that
    names them never fails.
    """
    extra = record["extra"]
    ctx = current_trace()
    if ctx is None:
        extra.setdefault("traceid", None)
        extra.setdefault("span_id", None)
        extra.setdefault("service", None)
    else:
        extra.setdefault("traceid", ctx.trace_id)
        extra.setdefault("span_id", ctx.span_id)
        extra.setdefault("service", ctx.service)
