"""``TracedSession`` and the module-level ``traced.get`` & co. on a shared default session."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from http.client import RemoteDisconnected
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Callable, Optional, Union, cast

import requests
from requests import PreparedRequest, Response
from requests.utils import get_environ_proxies
from urllib3.exceptions import ProtocolError
from urllib3.util.retry import Retry

from .adapter import Call, TracingAdapter, redirect_root
from .context import TraceContext, current_trace
from .events import emit, error_info
from .ids import new_span_id
from .settings import UNSET, OrUnset, given

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
# Environment variables that change what merge_environment_settings returns.
_ENV_NAMES = (
    *(
        name
        for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        for name in (base, base.upper())
    ),
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_ENV_CACHE_LIMIT = 256
_merge_setting = cast(Callable[[Any, Any], Any], requests.sessions.merge_setting)


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
        retries: Union[int, Retry, None] = 0,
        service: OrUnset[Optional[str]] = UNSET,
        propagate_headers: OrUnset[Sequence[str]] = UNSET,
        propagate_to: OrUnset[Optional[Sequence[str]]] = UNSET,
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
        self._env_snapshot: Optional[tuple[Optional[str], ...]] = None
        self._env_cache: dict[tuple[str, Optional[str]], tuple[dict[str, str], Any]] = {}
        self._merged_cache: dict[tuple[Any, ...], dict[str, Any]] = {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """As ``Session``: a pickled or deep-copied session works (its caches start empty)."""
        super().__setstate__(state)  # type: ignore[misc]
        self._clear_caches()

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """As ``Session.request``, with the session's default timeout when none is given."""
        if "timeout" not in kwargs and len(args) < 7:  # 7 positionals: timeout was given
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:
        """As ``Session.send``; a call outside any trace is one root trace, redirects included."""
        kwargs.setdefault("timeout", self.timeout)
        if current_trace() is not None or redirect_root.get() is not None:
            return self._send(request, kwargs)
        token = redirect_root.set([])
        try:
            return self._send(request, kwargs)
        finally:
            redirect_root.reset(token)

    def _send(self, request: PreparedRequest, kwargs: dict[str, Any]) -> Response:
        try:
            return super().send(request, **kwargs)
        except requests.TooManyRedirects as exc:
            # Each hop already logged its own call; this records how the call ended.
            holder = redirect_root.get()
            ctx = current_trace() or (holder[0] if holder else None)
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
        emit(ctx, "call", msg, span=(new_span_id(), ctx.span_id))

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        """As ``Session.merge_environment_settings``, with the environment lookup cached.

        requests reads proxy and CA settings from the environment on every call (about
        110 µs); the answer is cached by scheme and host, and the cache is dropped when
        one of the variables involved changes. Calls with per-call proxies, cert or
        verify path are merged as requests does, from the cached environment part.
        """
        if not self.trust_env or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        snapshot = tuple(map(os.environ.get, _ENV_NAMES))
        if (
            snapshot != self._env_snapshot
            or len(self._env_cache) > _ENV_CACHE_LIMIT
            or len(self._merged_cache) > _ENV_CACHE_LIMIT
        ):
            self._env_cache = {}
            self._merged_cache = {}
            self._env_snapshot = snapshot
        if proxies or stream or cert is not None or verify not in (None, True):
            return self._merge(url, proxies, stream, verify, cert)
        # The common call (no per-call settings): the whole answer is cached, keyed by
        # origin and by the session's own settings, which the caller may change.
        key = (
            _origin(url),
            stream,
            verify,
            tuple(self.proxies.items()) if self.proxies else (),
            self.stream,
            self.verify,
            self.cert,
        )
        merged = self._merged_cache.get(key)
        if merged is None:
            merged = self._merged_cache[key] = self._merge(url, proxies, stream, verify, cert)
        return {**merged, "proxies": dict(merged["proxies"])}

    def _merge(self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        merged_proxies: dict[str, Any] = dict(proxies or {})
        no_proxy = merged_proxies.get("no_proxy")
        key = (_origin(url), no_proxy)
        cached = self._env_cache.get(key)
        if cached is None:
            env_verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            cached = self._env_cache[key] = (
                get_environ_proxies(url, no_proxy=no_proxy),
                env_verify,
            )
        env_proxies, env_verify = cached
        for scheme, proxy in env_proxies.items():
            merged_proxies.setdefault(scheme, proxy)
        if (verify is True or verify is None) and env_verify:
            verify = env_verify
        return {
            "proxies": _merge_setting(merged_proxies, self.proxies),
            "stream": _merge_setting(stream, self.stream),
            "verify": _merge_setting(verify, self.verify),
            "cert": _merge_setting(cert, self.cert),
        }


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL: what proxy settings depend on."""
    return "/".join(url.split("/", 3)[:3])


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

    def _transmit(
        self,
        call: Call,
        stream: bool,
        timeout: Any,
        verify: Any,
        cert: Any,
        proxies: Optional[Mapping[str, str]],
    ) -> Response:
        request = call.request
        if request.method not in _IDEMPOTENT:
            return super()._transmit(call, stream, timeout, verify, cert, proxies)
        try:
            pool = self.get_connection_with_tls_context(request, verify, proxies, cert)
        except Exception:  # a bad URL or proxy: HTTPAdapter.send raises it as requests does
            return super()._transmit(call, stream, timeout, verify, cert, proxies)
        opened = getattr(pool, "num_connections", None)
        try:
            return super()._transmit(call, stream, timeout, verify, cert, proxies)
        except requests.ConnectionError as exc:
            broken = _aborted(exc)
            if opened is None or pool.num_connections != opened or broken is None:  # type: ignore[attr-defined]
                raise
            call.log_retry(request.method, 1, f"reused connection broke: {broken}", None)
        return super()._transmit(call, stream, timeout, verify, cert, proxies)


def _aborted(exc: requests.ConnectionError) -> Optional[str]:
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


_default: Optional[TracedSession] = None
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


def set_default_session(session: Optional[TracedSession]) -> None:
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
