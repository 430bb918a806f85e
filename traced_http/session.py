"""``TracedSession`` and the module-level ``traced.get`` & co. on a shared default session."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.client import RemoteDisconnected
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from requests import PreparedRequest, Response
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from traced_http.adapter import Call, RedirectChain, SendOptions, TracingAdapter
from traced_http.context import TraceContext, current_trace
from traced_http.events import emit, error_info
from traced_http.fast_paths import EnvironmentSettings
from traced_http.ids import new_span_id
from traced_http.settings import UNSET, OrUnset, given

__all__ = [
    "DEFAULT_TIMEOUT",
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
]

DEFAULT_TIMEOUT = (5.0, 30.0)
_SESSION_TIMEOUT: Any = object()  # no timeout given: the session's


class TracedSession(requests.Session):
    """A ``requests.Session`` whose every call is traced (through a mounted ``TracingAdapter``).

    ``timeout``: the default (connect, read) timeout of every call, so that none hangs
    forever; ``None`` restores requests' behaviour; a per-call ``timeout=`` wins.
    ``retries``: an int or a ``urllib3.util.Retry``; each retried attempt logs a ``retry``.
    The tracing options (``service``, ``propagate_to``, ...) are those of ``TracingAdapter``.
    """

    __attrs__ = [*requests.Session.__attrs__, "timeout"]  # noqa: RUF012 - as Session

    def __init__(
        self,
        *,
        timeout: Any = DEFAULT_TIMEOUT,
        retries: int | Retry | None = 0,
        service: OrUnset[str | None] = UNSET,
        propagate_headers: OrUnset[Sequence[str]] = UNSET,
        propagate_to: OrUnset[Sequence[str] | None] = UNSET,
        capture_bodies: OrUnset[bool] = UNSET,
        body_limit: OrUnset[int] = UNSET,
        redact_headers: OrUnset[Sequence[str]] = UNSET,
        redact_fields: OrUnset[Sequence[str]] = UNSET,
    ) -> None:
        options = given(locals())  # the tracing settings passed, for the adapters
        super().__init__()
        self.timeout = timeout
        # One adapter per prefix, as requests mounts them: each is closed once by close().
        self.mount("https://", TracingAdapter(max_retries=retries, **options))
        self.mount("http://", TracingAdapter(max_retries=retries, **options))
        self._clear_caches()

    def _clear_caches(self) -> None:
        self._environment = EnvironmentSettings()

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As ``Session``: a pickled or deep-copied session works (its caches start empty)."""
        super().__setstate__(state)  # type: ignore[misc]
        self._clear_caches()

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = _SESSION_TIMEOUT,
        *args: Any,
        **kwargs: Any,
    ) -> Response:
        """As ``Session.request``, with the session's default timeout when none is given."""
        if timeout is _SESSION_TIMEOUT:
            timeout = self.timeout
        return super().request(
            method, url, params, data, headers, cookies, files, auth, timeout, *args, **kwargs
        )

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """As ``Session.send``; a call outside any trace is one root trace, redirects included
        (its hops share a ``RedirectChain``)."""
        kwargs.setdefault("timeout", self.timeout)
        chain = RedirectChain.active()
        if chain is not None or current_trace() is not None:
            return self._send(request, kwargs, chain)  # in a trace, or a hop of a chain
        with RedirectChain.opened() as chain:
            return self._send(request, kwargs, chain)

    def _send(
        self, request: PreparedRequest, kwargs: dict[str, Any], chain: RedirectChain | None
    ) -> Response:
        try:
            return super().send(request, **kwargs)
        except requests.TooManyRedirects as exc:
            # Each hop already logged its own call; this records how the call ended.
            ctx = current_trace() or (chain.root if chain is not None else None)
            if ctx is not None:
                self._log_redirect_failure(ctx, request, exc)
            raise

    @staticmethod
    def _log_redirect_failure(
        ctx: TraceContext, request: PreparedRequest, exc: BaseException
    ) -> None:
        msg = {
            "method": request.method,
            "url": ctx.settings.redactor.url(request.url or ""),
            "error": error_info(exc, ctx.settings.redactor),
        }
        emit(ctx, "call", msg, ids=(new_span_id(), ctx.span_id))

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        """As ``Session.merge_environment_settings``, with the environment lookup cached
        (``fast_paths.EnvironmentSettings``)."""
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        return self._environment.merge(self, url, proxies, stream, verify, cert)


class _NoCookies(DefaultCookiePolicy):
    """Keeps nothing in the shared jar: one caller's cookies never reach another's call."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


_IDEMPOTENT = frozenset(("GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"))


class _ResendOnReusedConnection(TracingAdapter):
    """Sends an idempotent call once more when the pooled connection it reused broke.

    A server may close a kept-alive connection just as a call is sent on it (gunicorn
    after 2 s idle); ``requests.get`` opens a new connection every time and never meets
    this, so the pooled default session sends such a call again, once (RFC 9112, 9.3.1).
    Only then: a connection opened for the call itself that breaks means the server may
    have received the request, and the error is raised as ``requests.get`` raises it.
    The attempt counts as reused when its pool opened no connection while it ran (a
    concurrent call opening one makes it count as fresh: no resend, the safe side).
    """

    def _transmit(self, call: Call, options: SendOptions) -> Response:
        request = call.request
        if request.method not in _IDEMPOTENT:
            return super()._transmit(call, options)
        try:
            pool = self.get_connection_with_tls_context(
                request, options.verify, options.proxies, options.cert
            )
        except Exception:  # a bad URL or proxy: HTTPAdapter.send raises it as requests does
            return super()._transmit(call, options)
        opened = getattr(pool, "num_connections", None)
        try:
            return super()._transmit(call, options)
        except requests.ConnectionError as exc:
            broken = _aborted(exc)
            if opened is None or pool.num_connections != opened or broken is None:  # type: ignore[attr-defined]
                raise
            call.log_retry(request.method, 1, f"reused connection broke: {broken}", None)
        return super()._transmit(call, options)


def _aborted(exc: requests.ConnectionError) -> str | None:
    """How the connection broke, if it was closed or reset before any answer (else None:
    a timeout, a refused connection, a TLS error)."""
    cause = exc.args[0] if exc.args else None
    if not isinstance(cause, ProtocolError) or len(cause.args) < 2:
        return None
    reason = cause.args[1]
    if isinstance(reason, (RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        return type(reason).__name__
    return None


def _new_default_session() -> TracedSession:
    session = TracedSession()
    session.mount("https://", _ResendOnReusedConnection())
    session.mount("http://", _ResendOnReusedConnection())
    session.cookies.set_policy(_NoCookies())
    return session


_default: TracedSession | None = None
_default_lock = threading.Lock()


def default_session() -> TracedSession:
    """The shared session behind ``traced.get`` & co.: pooled, thread-safe, keeps no cookies."""
    global _default
    session = _default
    if session is None:
        with _default_lock:
            if _default is None:
                _default = _new_default_session()
            session = _default
    return session


def set_default_session(session: TracedSession | None) -> None:
    """Put ``session`` behind ``traced.get`` & co.; ``None``: a fresh default when next needed."""
    global _default
    with _default_lock:
        _default = session


def request(method: str, url: str, **kwargs: Any) -> Response:
    """As ``requests.request``, traced, on the default session."""
    return default_session().request(method, url, **kwargs)


def get(url: str, params: Any = None, **kwargs: Any) -> Response:
    """As ``requests.get``, traced, on the default session."""
    return default_session().request("GET", url, params=params, **kwargs)


def options(url: str, **kwargs: Any) -> Response:
    """As ``requests.options``, traced, on the default session."""
    return default_session().request("OPTIONS", url, **kwargs)


def head(url: str, **kwargs: Any) -> Response:
    """As ``requests.head`` (no redirects unless asked), traced, on the default session."""
    kwargs.setdefault("allow_redirects", False)
    return default_session().request("HEAD", url, **kwargs)


def post(url: str, data: Any = None, json: Any = None, **kwargs: Any) -> Response:
    """As ``requests.post``, traced, on the default session."""
    return default_session().request("POST", url, data=data, json=json, **kwargs)


def put(url: str, data: Any = None, **kwargs: Any) -> Response:
    """As ``requests.put``, traced, on the default session."""
    return default_session().request("PUT", url, data=data, **kwargs)


def patch(url: str, data: Any = None, **kwargs: Any) -> Response:
    """As ``requests.patch``, traced, on the default session."""
    return default_session().request("PATCH", url, data=data, **kwargs)


def delete(url: str, **kwargs: Any) -> Response:
    """As ``requests.delete``, traced, on the default session."""
    return default_session().request("DELETE", url, **kwargs)
