"""The active trace: one ``ContextVar`` is the single source of truth.

Inbound hooks, ``traced.trace()`` and outbound calls set it; everything that logs reads it.
Threads and executors do not inherit it by themselves: ``bind`` carries it over.
"""

from __future__ import annotations

import contextvars
import functools
import itertools
from typing import Any, Callable, TypeVar

from traced_http.propagation import Incoming
from traced_http.settings import DEFAULT_SETTINGS, TraceSettings, service_name

__all__ = ["TraceContext", "activate", "bind", "current_trace", "current_traceid", "deactivate"]

_T = TypeVar("_T")


class TraceContext:
    """One span of one trace: the request being handled, or a ``traced.trace()`` block.

    ``next_index()`` numbers the events written in this span (from 1); it is shared by
    every thread bound to the span and safe to call from all of them at once.
    ``settings`` are those of the service that opened the span; its outbound calls use them.
    ``service``, the name its events carry, is resolved from them once, when the span opens
    (``service_name``: theirs, else ``OTEL_SERVICE_NAME``, else ``"python"``).
    """

    __slots__ = (
        "_counter",
        "flags",
        "parent_id",
        "service",
        "settings",
        "span_id",
        "trace_id",
        "tracestate",
    )

    def __init__(
        self,
        *,
        trace_id: str,
        span_id: str,
        parent_id: str | None = None,
        flags: str = "01",
        tracestate: str | None = None,
        settings: TraceSettings = DEFAULT_SETTINGS,
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.flags = flags
        self.tracestate = tracestate
        self.settings = settings
        self.service = service_name(settings)
        # itertools.count is advanced atomically under the GIL: no lock on the hot path.
        self._counter = itertools.count(1)

    @classmethod
    def continuing(cls, incoming: Incoming, span_id: str, settings: TraceSettings) -> TraceContext:
        """The span ``span_id`` of the trace that ``incoming`` (the caller's) continues."""
        return cls(
            trace_id=incoming.trace_id,
            span_id=span_id,
            parent_id=incoming.parent_id,
            flags=incoming.flags,
            tracestate=incoming.tracestate,
            settings=settings,
        )

    def next_index(self) -> int:
        """The ``trace_index`` of the next event of this span."""
        return next(self._counter)

    def __repr__(self) -> str:
        return (
            f"TraceContext(trace_id={self.trace_id!r}, span_id={self.span_id!r}, "
            f"parent_id={self.parent_id!r}, service={self.service!r})"
        )


_current: contextvars.ContextVar[TraceContext | None] = contextvars.ContextVar(
    "traced_http_trace", default=None
)


def current_trace() -> TraceContext | None:
    """The active ``TraceContext``, or None outside any trace."""
    return _current.get()


def current_traceid() -> str | None:
    """The active trace id, or None outside any trace."""
    ctx = _current.get()
    return None if ctx is None else ctx.trace_id


def activate(ctx: TraceContext | None) -> contextvars.Token[TraceContext | None]:
    """Make ``ctx`` the active trace; pass the token to ``deactivate`` when done."""
    return _current.set(ctx)


def deactivate(token: contextvars.Token[TraceContext | None]) -> None:
    """Restore the trace that was active before ``activate`` (also across nested apps)."""
    try:
        _current.reset(token)
    except ValueError:
        # The token was made in another Context (a server that switched contexts between
        # hooks): restore the old value by hand rather than leak this trace.
        _current.set(token.old_value if token.old_value is not token.MISSING else None)


def bind(fn: Callable[..., _T]) -> Callable[..., _T]:
    """Wrap ``fn`` so that it runs in the trace active now, in whatever thread calls it.

    ``executor.submit(traced.bind(work), item)``: a thread pool does not carry context
    variables over by itself, so without ``bind`` the work would log with no trace id.
    """
    ctx = _current.get()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> _T:
        token = _current.set(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            _current.reset(token)

    return bound
