"""``TracingAdapter``: tracing at the transport, for every hop of every call of a session.

Each hop (a redirect is its own hop) is a child span: its trace headers are decided
there, for its own host, and it gets its own ``call`` event when it finished or failed.
A session you do not own (a third-party SDK's) is traced by mounting this adapter.
"""

from __future__ import annotations

import atexit
import collections
import contextvars
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, cast

if TYPE_CHECKING:
    from typing_extensions import Self

from requests import PreparedRequest, Response
from requests.adapters import DEFAULT_POOLBLOCK, DEFAULT_POOLSIZE, HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.connectionpool import ConnectionPool
from urllib3.util.retry import Retry

from traced_http.bodies import body_kind, capture, content_length, marker
from traced_http.context import TraceContext, current_trace
from traced_http.events import SpanIds, emit, enabled, error_info
from traced_http.ids import new_span_id, new_trace_id
from traced_http.schema import CALL, RETRY
from traced_http.settings import (
    DEFAULT_SETTINGS,
    UNSET,
    OrUnset,
    TraceSettings,
    given,
)

__all__ = ["Call", "TracingAdapter", "retry_policy"]

# The call being sent, for the retry events that urllib3 raises deep inside it.
_active_call: contextvars.ContextVar[Call | None] = contextvars.ContextVar(
    "traced_http_call", default=None
)
_MERGED_LIMIT = 64


class RedirectChain:
    """One call made outside any trace, with its redirects: all its hops share one trace.

    ``TracedSession.send`` opens a chain around such a call (``RedirectChain.opened()``);
    the adapter's first hop is the root span of a new trace, kept as ``root``, and each
    later hop of the chain is a child of it. An adapter mounted on a plain ``Session``
    finds no chain: each of its hops made outside a trace is a root of its own.
    """

    __slots__ = ("root",)

    def __init__(self) -> None:
        self.root: TraceContext | None = None

    @staticmethod
    def active() -> RedirectChain | None:
        """The chain of the call being sent, if a ``TracedSession`` opened one."""
        return _redirect_chain.get()

    @staticmethod
    @contextmanager
    def opened() -> Iterator[RedirectChain]:
        """A new chain, active for the call and the redirects sent inside the block."""
        chain = RedirectChain()
        token = _redirect_chain.set(chain)
        try:
            yield chain
        finally:
            _redirect_chain.reset(token)


_redirect_chain: contextvars.ContextVar[RedirectChain | None] = contextvars.ContextVar(
    "traced_http_redirect_chain", default=None
)


class SendOptions(NamedTuple):
    """``HTTPAdapter.send``'s arguments after the request, in its order."""

    stream: bool
    timeout: Any
    verify: Any
    cert: Any
    proxies: Mapping[str, str] | None


class TracingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that traces every request it sends.

    The positional parameters are ``HTTPAdapter``'s own (``TracingAdapter(20, 20)`` works);
    the tracing options are keyword-only. Options left unset follow the active trace's
    settings (those of the Flask app handling the request), so
    ``sdk.mount("https://", TracingAdapter())`` is enough. ``max_retries`` works as in
    ``HTTPAdapter``; each retried attempt logs a ``retry`` event.

    The response body is never read here: a call's event is written when the body has
    been read (as ``Session.send`` does after redirects and response hooks), when the
    response is closed or dropped unread, at once for ``stream=True`` (the headers are
    the answer) and when the call failed.
    """

    __attrs__ = [*HTTPAdapter.__attrs__, "_overrides"]  # noqa: RUF012 - as HTTPAdapter

    def __init__(
        self,
        pool_connections: int = DEFAULT_POOLSIZE,
        pool_maxsize: int = DEFAULT_POOLSIZE,
        max_retries: int | Retry | None = 0,
        pool_block: bool = DEFAULT_POOLBLOCK,
        *,
        service: OrUnset[str | None] = UNSET,
        propagate_headers: OrUnset[Sequence[str]] = UNSET,
        propagate_to: OrUnset[Sequence[str] | None] = UNSET,
        capture_bodies: OrUnset[bool] = UNSET,
        body_limit: OrUnset[int] = UNSET,
        redact_headers: OrUnset[Sequence[str]] = UNSET,
        redact_fields: OrUnset[Sequence[str]] = UNSET,
    ) -> None:
        options = given(locals())  # the settings passed; the active trace's fill in the rest
        super().__init__(
            pool_connections,
            pool_maxsize,
            0 if max_retries is None else max_retries,
            pool_block,
        )
        self.max_retries = retry_policy(max_retries)  # an int: our policy, not from_int()
        self._overrides = options
        self._setup()
        if options:
            DEFAULT_SETTINGS.replace(**options)  # validate now, not on the first call

    def _setup(self) -> None:
        """The state derived from the settings (again after unpickling)."""
        self._retries_on = self.max_retries.total not in (0, False)
        self._service: str | None = self._overrides.get("service")
        self._merged: dict[int, tuple[TraceSettings, TraceSettings]] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)  # type: ignore[misc]
        self._setup()

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
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        if _dropped:
            flush_dropped()
        call_span = new_span_id()
        ctx = current_trace()
        if ctx is None:
            settings = self.settings_for(DEFAULT_SETTINGS)
            ctx, ids = self._trace_outside_any(call_span, settings)
        else:
            settings = self.settings_for(ctx.settings)
            ids = (call_span, ctx.span_id)
        # A session's own name wins over a trace() block that names no service.
        service = self._service if ctx.settings.service is None else None
        url = request.url or ""
        headers = request.headers
        propagated = settings.hosts.allows(url)
        if propagated:
            if not settings.outbound.caller_overrides(headers, ctx.trace_id, ctx.tracestate):
                settings.outbound.inject(
                    headers, ctx.trace_id, call_span, ctx.flags, ctx.tracestate
                )
        else:
            settings.outbound.strip(headers)

        call = Call(ctx, ids, settings, request, time.time(), propagated, service)
        token = _active_call.set(call) if self._retries_on else None
        try:
            response = self._transmit(call, SendOptions(stream, timeout, verify, cert, proxies))
        except Exception as exc:
            call.log(None, exc)
            raise
        finally:
            if token is not None:
                _active_call.reset(token)
        if stream or not enabled():
            call.log_unread(_unread(response, "streamed"))
        elif type(response) is not Response:  # a subclass's own build_response: kept as is
            call.log_unread(_unread(response, "not_read"))
        else:
            # The event waits for the body: reading it here would change what the caller
            # sees (redirect handling, response hooks, Response.elapsed).
            response.__class__ = _CallResponse
            cast(_CallResponse, response).pending_call = call
        return response

    def _trace_outside_any(
        self, call_span: str, settings: TraceSettings
    ) -> tuple[TraceContext, SpanIds]:
        """The trace of a hop sent outside any trace, and the ids of the hop's span.

        The first hop of a call is the root span of a new trace, opened under ``settings``
        (this adapter's options over the defaults); a redirect hop of a ``RedirectChain``
        is a child of its chain's root.
        """
        chain = RedirectChain.active()
        if chain is not None and chain.root is not None:
            return chain.root, (call_span, chain.root.span_id)
        root = TraceContext(trace_id=new_trace_id(), span_id=call_span, settings=settings)
        if chain is not None:
            chain.root = root
        return root, (call_span, None)

    def _transmit(self, call: Call, options: SendOptions) -> Response:
        """``HTTPAdapter.send``: the one place a subclass may send a call again."""
        return super().send(call.request, *options)


class Call(NamedTuple):
    """One hop being sent: what its ``call`` event needs, and that event, written once.

    ``ids`` are those of the hop's span (its own, sent on in ``traceparent``, and its
    parent's); ``service`` names its events instead of ``ctx``'s (a session's own name).
    """

    ctx: TraceContext
    ids: SpanIds
    settings: TraceSettings
    request: PreparedRequest
    start: float
    propagated: bool = True
    service: str | None = None

    def log_retry(self, method: str | None, attempt: int, reason: str, status: Any) -> None:
        """A ``retry`` event: an attempt of this call failed and is tried again."""
        emit(
            self.ctx,
            RETRY,
            {
                "method": method,
                "url": self.settings.redactor.url(self.request.url or ""),
                "attempt": attempt,
                "reason": self.settings.redactor.text(reason[:1024]),
                "status": status,
            },
            ids=self.ids,
            service=self.service,
        )

    def log(self, response: Response | None, exc: BaseException | None) -> None:
        """The ``call`` event: the error (also one reading the body), or the answer read."""
        if not enabled():
            return
        msg = self._message(time.time())
        settings = self.settings
        if response is None or exc is not None:  # no answer, or its body could not be read
            msg["error"] = error_info(exc, settings.redactor) if exc is not None else None
        else:
            content = response.content or b""
            msg["status_code"] = response.status_code
            msg["response_size"] = len(content)
            if settings.capture_bodies and content:
                content_type = response.headers.get("Content-Type")
                kind = body_kind(content_type)
                msg["response_data"] = (
                    capture(content, kind, settings.body_limit, settings.redactor)
                    if kind
                    else marker("omitted", content_type=content_type, length=len(content))
                )
        emit(self.ctx, CALL, msg, ids=self.ids, service=self.service)

    def log_unread(self, unread: _Unread) -> None:
        """The ``call`` event of an answer whose body it does not hold (streamed, not read)."""
        if not enabled():
            return
        why, end, status, length = unread
        msg = self._message(end)
        msg["status_code"] = status
        msg["response_size"] = content_length(length)
        msg["response_data"] = marker(why)
        emit(self.ctx, CALL, msg, ids=self.ids, service=self.service)

    def _message(self, end: float) -> dict[str, Any]:
        request = self.request
        msg: dict[str, Any] = {
            "method": request.method,
            "url": self.settings.redactor.url(request.url or ""),
            "start_time": self.start,
            "cost_time": end - self.start,
            "request_size": _size(request.body),
        }
        if not self.propagated:
            msg["propagated"] = False  # the host is outside propagate_to: no trace header
        return msg


# Why the body is not in the event, when the answer ended, its status and Content-Length.
_Unread = tuple[str, float, int, Optional[str]]
# Calls whose response was garbage-collected unread. Their events are written by the next
# call (or at exit), never from the collector: a logging handler's lock may be held by
# the very code the collection interrupted.
_dropped: collections.deque[tuple[Call, _Unread]] = collections.deque()


def _unread(response: Response, why: str) -> _Unread:
    return (why, time.time(), response.status_code, response.headers.get("Content-Length"))


@atexit.register
def flush_dropped() -> None:
    """Write the events of the calls whose response was dropped unread."""
    while _dropped:
        try:
            call, unread = _dropped.popleft()
        except IndexError:  # another thread took the last one
            return
        call.log_unread(unread)


class _CallResponse(Response):
    """A ``Response`` whose call event is written once its body was read (or never will be).

    The adapter gives a non-streamed response this class instead of reading its body:
    ``content`` (which ``text``, ``json()`` and ``Session.send`` go through) writes the
    event after the read, with the body or the read's error; ``close()`` writes it
    without the body; a response dropped unread has it written by the next call. Nothing
    else differs from ``Response``; a pickled and loaded copy is a finished response.
    """

    pending_call: Call | None = None

    @property
    def content(self) -> Any:
        call = self.pending_call
        if call is None:
            return Response.content.fget(self)  # type: ignore[attr-defined]
        self.pending_call = None
        try:
            content = Response.content.fget(self)  # type: ignore[attr-defined]
        except Exception as exc:
            call.log(self, exc)
            raise
        call.log(self, None)
        return content

    def close(self) -> None:
        call = self.pending_call
        if call is not None:
            self.pending_call = None
            call.log_unread(_unread(self, "not_read"))
        super().close()

    def __del__(self) -> None:
        call = self.pending_call
        if call is not None:
            self.pending_call = None
            _dropped.append((call, _unread(self, "not_read")))


def _size(body: Any) -> int | None:
    if body is None:
        return 0
    if isinstance(body, (bytes, str)):
        return len(body)
    return None


class _RetryEvents(Retry):
    """A ``Retry`` that logs a ``retry`` event for each attempt it lets be retried."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The traced class is built at run time and cannot be found by name: a pickled
        # (or deep-copied) policy is rebuilt from the caller's own Retry class.
        base = next(c for c in type(self).__mro__ if not issubclass(c, _RetryEvents))
        return (_rebuild_policy, (base, self.__dict__.copy()))

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        # Raises when the retries are exhausted: then there is no retry to report.
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        call = _active_call.get()
        if call is not None:
            last = new.history[-1] if new.history else None
            error = last.error if last is not None else None
            status = last.status if last is not None else None
            reason = f"{type(error).__name__}: {error}" if error is not None else f"status {status}"
            call.log_retry(
                last.method if last is not None else None, len(new.history), reason, status
            )
        return new


_traced_classes: dict[type[Retry], type[Retry]] = {}


def _rebuild_policy(base: type[Retry], state: dict[str, Any]) -> Retry:
    """A pickled policy loaded: the caller's ``Retry`` with its state, traced again."""
    retries = base.__new__(base)
    retries.__dict__.update(state)
    return retry_policy(retries)


def retry_policy(retries: int | Retry | None) -> Retry:
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
