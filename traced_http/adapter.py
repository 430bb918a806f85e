"""``TracingAdapter``: tracing at the transport, for every hop of every call of a session.

Each hop (a redirect is its own hop) is a child span: its trace headers are decided
there, for its own host, and it gets its own ``call`` event when it finished or failed.
A session you do not own (a third-party SDK's) is traced by mounting this adapter.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:
    from typing_extensions import Self

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.util.retry import Retry

from .bodies import body_kind, capture, content_length, marker
from .context import TraceContext, current_trace
from .events import emit, enabled, error_info
from .ids import new_span_id, new_trace_id
from .redaction import Redactor
from .settings import DEFAULT_SETTINGS, TraceSettings

__all__ = ["TracingAdapter", "retry_policy"]

_Span = tuple[str, Optional[str]]
# The call being sent, for the retry events that urllib3 raises deep inside it.
_active_call: contextvars.ContextVar[Optional[tuple[TraceContext, _Span, str, Redactor]]] = (
    contextvars.ContextVar("traced_http_call", default=None)
)
# The root trace of a call made outside any trace, shared by its redirect hops.
redirect_root: contextvars.ContextVar[Optional[list[TraceContext]]] = contextvars.ContextVar(
    "traced_http_redirect_root", default=None
)
_MERGED_LIMIT = 64
_POOL_OPTIONS = ("pool_connections", "pool_maxsize", "pool_block")
_TRACING_SETTINGS = (
    "service",
    "propagate_to",
    "propagate_headers",
    "capture_bodies",
    "body_limit",
    "redact_headers",
    "redact_fields",
)


class TracingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that traces every request it sends.

    Tracing options left unset follow the active trace's settings (those of the Flask app
    handling the request), so ``sdk.mount("https://", TracingAdapter())`` is enough.
    ``max_retries`` works as in ``HTTPAdapter``; each retried attempt logs a ``retry`` event.
    """

    def __init__(self, *, max_retries: Union[int, Retry, None] = 0, **options: Any) -> None:
        unknown = set(options) - set(_TRACING_SETTINGS) - set(_POOL_OPTIONS)
        if unknown:
            raise TypeError(f"TracingAdapter got unknown options: {', '.join(sorted(unknown))}")
        pool = {k: options.pop(k) for k in _POOL_OPTIONS if k in options}
        super().__init__(max_retries=0 if max_retries is None else max_retries, **pool)
        self.max_retries = retry_policy(max_retries)  # an int: our policy, not from_int()
        self._retries_on = self.max_retries.total not in (0, False)
        self._overrides = options
        self._merged: dict[int, tuple[TraceSettings, TraceSettings]] = {}
        if options:
            DEFAULT_SETTINGS.replace(**options)  # validate now, not on the first call

    def settings_for(self, base: TraceSettings) -> TraceSettings:
        """``base`` (the active trace's settings) with this adapter's own options applied."""
        if not self._overrides:
            return base
        entry = self._merged.get(id(base))
        if entry is None or entry[0] is not base:
            # The base is kept alive with its entry: a new app's settings allocated where a
            # collected one was must not get the old app's merged settings.
            if len(self._merged) >= _MERGED_LIMIT:
                self._merged.clear()
            entry = self._merged[id(base)] = (base, base.replace(**self._overrides))
        return entry[1]

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Optional[Mapping[str, str]] = None,
    ) -> Response:
        call_span = new_span_id()
        ctx = current_trace()
        holder = None
        if ctx is None:
            holder = redirect_root.get()
            if holder:
                ctx = holder[0]
        if ctx is None:
            # Outside any trace the call is a root span of a new trace of its own.
            settings = self.settings_for(DEFAULT_SETTINGS)
            ctx = TraceContext(new_trace_id(), call_span, None, settings.service, settings=settings)
            if holder is not None:
                holder.append(ctx)
            span: _Span = (call_span, None)
        else:
            settings = self.settings_for(ctx.settings)
            span = (call_span, ctx.span_id)
        url = request.url or ""
        headers = request.headers
        if settings.hosts.allows(url):
            if not settings.outbound.caller_overrides(headers, ctx.trace_id):
                settings.outbound.inject(
                    headers, ctx.trace_id, call_span, ctx.flags, ctx.tracestate
                )
        else:
            settings.outbound.strip(headers)

        token = _active_call.set((ctx, span, url, settings.redactor)) if self._retries_on else None
        start = time.time()
        try:
            response = super().send(request, stream, timeout, verify, cert, proxies)
            if not stream:
                response.content  # noqa: B018 - read now, as Session.send would, to time it
        except Exception as exc:
            self._log_call(ctx, span, settings, request, start, None, exc, stream)
            raise
        finally:
            if token is not None:
                _active_call.reset(token)
        self._log_call(ctx, span, settings, request, start, response, None, stream)
        return response

    @staticmethod
    def _log_call(
        ctx: TraceContext,
        span: _Span,
        settings: TraceSettings,
        request: PreparedRequest,
        start: float,
        response: Optional[Response],
        exc: Optional[BaseException],
        stream: bool,
    ) -> None:
        if not enabled():
            return
        end = time.time()
        msg: dict[str, Any] = {
            "method": request.method,
            "url": settings.redactor.url(request.url or ""),
            "start_time": start,
            "cost_time": end - start,
            "request_size": _size(request.body),
        }
        if response is None:
            msg["error"] = error_info(exc, settings.redactor) if exc is not None else None
        else:
            msg["status_code"] = response.status_code
            if stream:
                msg["response_size"] = content_length(response.headers.get("Content-Length"))
                msg["response_data"] = marker("streamed")
            else:
                content = response.content or b""
                msg["response_size"] = len(content)
                if settings.capture_bodies and content:
                    content_type = response.headers.get("Content-Type")
                    kind = body_kind(content_type)
                    msg["response_data"] = (
                        capture(content, kind, settings.body_limit, settings.redactor)
                        if kind
                        else marker("omitted", content_type=content_type, length=len(content))
                    )
        emit(ctx, "call", msg, span=span)


def _size(body: Any) -> Optional[int]:
    if body is None:
        return 0
    if isinstance(body, (bytes, str)):
        return len(body)
    return None


class _RetryEvents(Retry):
    """A ``Retry`` that logs a ``retry`` event for each attempt it lets be retried."""

    def increment(
        self,
        method: Optional[str] = None,
        url: Optional[str] = None,
        response: Optional[BaseHTTPResponse] = None,
        error: Optional[Exception] = None,
        _pool: Optional[ConnectionPool] = None,
        _stacktrace: Optional[TracebackType] = None,
    ) -> Self:
        # Raises when the retries are exhausted: then there is no retry to report.
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        call = _active_call.get()
        if call is not None:
            ctx, span, url, redactor = call
            last = new.history[-1] if new.history else None
            error = last.error if last is not None else None
            status = last.status if last is not None else None
            reason = f"{type(error).__name__}: {error}" if error is not None else f"status {status}"
            emit(
                ctx,
                "retry",
                {
                    "method": last.method if last is not None else None,
                    "url": redactor.url(url),
                    "attempt": len(new.history),
                    "reason": redactor.text(reason[:1024]),
                    "status": status,
                },
                span=span,
            )
        return new


_traced_classes: dict[type[Retry], type[Retry]] = {}


def retry_policy(retries: Union[int, Retry, None]) -> Retry:
    """A ``Retry`` that logs retry events, from an int or from any ``Retry`` (subclass kept).

    An int ``n`` retries connection and read errors and 502/503/504 answers of idempotent
    methods ``n`` times, with a short backoff; after the last try the caller gets the last
    response (as ``requests`` gives it without retries), not an exception.
    """
    if retries is None:
        retries = 0
    if not isinstance(retries, Retry):
        retries = (
            Retry(0, read=False)
            if retries == 0
            else Retry(
                total=retries,
                status_forcelist=(502, 503, 504),
                backoff_factor=0.1,
                raise_on_status=False,
            )
        )
    if isinstance(retries, _RetryEvents):
        return retries
    cls = type(retries)
    traced = _traced_classes.get(cls)
    if traced is None:
        traced = _traced_classes[cls] = type(f"Traced{cls.__name__}", (_RetryEvents, cls), {})
    copy = traced.__new__(traced)
    copy.__dict__.update(retries.__dict__)
    return copy
