"""The ``start`` and ``end`` messages of a request, built straight from what is logged.

Only the request attributes that go into the message are touched: headers are read from
the WSGI environ once, without an intermediate header map. The hooks never read a request
body: a textual one is described in the ``end`` event, from what the application read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import quote

from flask import Response

from flask_hooks.config import TracingConfig
from flask_hooks.request_body import BODYLESS, RecordedInput, request_length
from traced_http.bodies import (
    body_kind,
    capture,
    marker,
    query_fields,
    truncated,
)
from traced_http.events import describe_failure, error_info
from traced_http.fast_paths import header_name, header_names
from traced_http.propagation import InboundHeaders, Incoming, parse_traceparent, valid_plain_id
from traced_http.redaction import REDACTED, VALUE_LIMIT, Redactor, cut
from traced_http.settings import TraceSettings

__all__ = ["end_message", "recorded_body", "start_message"]

HEADER_VALUE_LIMIT = VALUE_LIMIT
HEADERS_LIMIT = 8 * VALUE_LIMIT
_REJECTED = "[REJECTED]"
# Headers whose value is a URL: its credentials and secret query fields are hidden.
_URL_REQUEST_HEADERS = frozenset(("Referer",))
# Response headers looked at by name (lowercased): a URL to redact, or the content type.
_CONTENT_TYPE = "content-type"
_URL_RESPONSE_HEADERS = frozenset(("location", "content-location", "refresh"))
_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~!$&'()*+,;=:@-]*")
_PATH_SAFE = "/._~!$&'()*+,;=:@-"


def start_message(
    environ: Mapping[str, Any],
    incoming: Incoming,
    config: TracingConfig,
    now: float,
    body: RecordedInput | None = None,
    route: str | None = None,
) -> dict[str, Any]:
    """The start message: method, URL, headers, request data, ip and start time, plus
    ``path``, ``route``, ``remote_addr`` and where the id came from.

    ``body``: the request body being recorded for the ``end`` event, if any; ``route``: the
    URL rule the request matched.
    """
    settings = config.settings
    redactor = settings.redactor
    method = environ.get("REQUEST_METHOD", "GET")
    remote_addr = environ.get("REMOTE_ADDR")
    try:
        msg: dict[str, Any] = {
            "method": method,
            "url": request_url(environ, redactor),
            "path": _logged_path(environ.get("PATH_INFO") or "/"),
            "headers": request_headers(environ, settings, config.inbound, incoming),
            "request_data": request_data(environ, method, settings, body),
        }
    except Exception:
        # Built again part by part: one that fails costs only itself, never the others.
        msg = {"method": method}
        msg["url"] = _part(msg, "url", request_url, environ, redactor)
        msg["path"] = _part(msg, "path", _logged_path, environ.get("PATH_INFO") or "/")
        msg["headers"] = _part(
            msg, "headers", request_headers, environ, settings, config.inbound, incoming
        )
        msg["request_data"] = _part(
            msg, "request_data", request_data, environ, method, settings, body
        )
    msg["ip"] = cut(environ.get("HTTP_X_REAL_IP") or remote_addr or "")
    msg["remote_addr"] = remote_addr
    msg["start_time"] = now
    msg["id_source"] = incoming.source
    if incoming.rejected:
        msg["rejected_headers"] = list(incoming.rejected)
    if route is not None:
        msg["route"] = route  # the URL rule matched (``/orders/<int:order_id>``)
    return msg


def _part(msg: dict[str, Any], what: str, build: Callable[..., Any], *args: Any) -> Any:
    """``build(*args)``; None when it failed, with the failure noted on the message."""
    try:
        return build(*args)
    except Exception as exc:
        failure = describe_failure(f"start message ({what})", exc)["capture_error"]
        msg.setdefault("capture_error", failure)
        return None


def request_url(environ: Mapping[str, Any], redactor: Redactor) -> str:
    """The URL as the client sent it (percent-encoded), secret query fields hidden.

    Built from the environ: Werkzeug's ``request.url`` converts to an IRI, which cost
    more than the rest of the start event together; the log keeps the URL as it travelled.
    A URL longer than ``VALUE_LIMIT`` is cut before anything else reads it.
    """
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
    )
    path = environ.get("SCRIPT_NAME", "") + (environ.get("PATH_INFO") or "/")
    query = environ.get("QUERY_STRING")
    scheme = environ.get("wsgi.url_scheme", "http")
    size = len(host) + len(path) + (len(query) + 1 if query else 0)
    if size > VALUE_LIMIT:
        return _long_url(scheme, host, path, query, size, redactor)
    if not _PLAIN_PATH.fullmatch(path):
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    url = f"{scheme}://{host}{path}"
    return f"{url}?{redactor.query(query)}" if query else url


def _long_url(
    scheme: str, host: str, path: str, query: str | None, size: int, redactor: Redactor
) -> str:
    """A URL over the limit: each part cut first, then quoted and redacted, then the whole."""
    path = path[:VALUE_LIMIT]
    if not _PLAIN_PATH.fullmatch(path):
        path = quote(path.encode("latin-1", "replace"), safe=_PATH_SAFE)
    url = f"{scheme}://{host[:VALUE_LIMIT]}{path}"
    if query:
        url = f"{url}?{redactor.query(query[:VALUE_LIMIT])}"
    return f"{url[:VALUE_LIMIT]}...[cut, {size} in all]"


def request_headers(
    environ: Mapping[str, Any], settings: TraceSettings, inbound: InboundHeaders, incoming: Incoming
) -> dict[str, str]:
    """Request headers as logged: secrets redacted, invalid trace ids never repeated.

    A trace header that lost to a higher one was not examined when the id was chosen:
    it is checked here, and an invalid value is replaced like a rejected one.
    """
    secret = settings.redactor.secret_header
    names = header_names
    rejected = incoming.rejected
    trace_names = inbound.logged_names
    out: dict[str, str] = {}
    budget = HEADERS_LIMIT  # long values past this total are logged as their length only
    for key, value in environ.items():
        name = names.get(key)
        if name is None:
            name = header_name(key)
            if len(name) > HEADER_VALUE_LIMIT:
                name = cut(name)
        if not name or not value:
            continue
        # Every value is cut before anything scans it (url() cuts its own input).
        if secret(name):
            value = REDACTED
        elif name in _URL_REQUEST_HEADERS:
            value = settings.redactor.url(value)
        elif name in trace_names and (
            name.lower() in rejected
            or (name.lower() != incoming.source and not _valid_trace(name.lower(), value))
        ):
            value = _REJECTED
        elif len(value) > HEADER_VALUE_LIMIT:
            value = cut(value, min(HEADER_VALUE_LIMIT, max(budget, 0)))
        budget -= len(value)
        out[name] = value
    return out


def _valid_trace(name: str, value: str) -> bool:
    if name == "traceparent":
        return parse_traceparent(value) is not None
    if name == "tracestate":
        return len(value) <= HEADER_VALUE_LIMIT
    return valid_plain_id(value) is not None


def request_data(
    environ: Mapping[str, Any], method: str, settings: TraceSettings, body: RecordedInput | None
) -> Any:
    """The query args of a GET (or HEAD, OPTIONS, DELETE, TRACE). A body is not read here: a
    textual one is ``deferred`` to the end event, anything else is ``omitted``."""
    if method in BODYLESS:
        query = environ.get("QUERY_STRING")
        return query_fields(query, settings.redactor) if query else {}
    if body is not None:
        return marker("deferred", length=body.length)
    if not settings.capture_bodies:
        return None
    length = request_length(environ)
    if not length:
        return None
    # Multipart uploads and binary bodies are never read, not even in passing.
    return marker("omitted", content_type=environ.get("CONTENT_TYPE"), length=length)


def recorded_body(body: RecordedInput, settings: TraceSettings) -> Any:
    """The ``end`` event's ``request_data``: the body as far as the application read it."""
    if not body.seen:
        return marker("not_read", length=body.length)
    head = bytes(body.head)
    if body.seen >= body.length and body.length <= settings.body_limit:
        return capture(head, body.kind, settings.body_limit, settings.redactor)
    return truncated(head, body.length, settings.redactor, body.kind)


def end_message(
    response: Response | None,
    error: BaseException | None,
    start: float,
    now: float,
    settings: TraceSettings,
) -> dict[str, Any]:
    """``end_time``, ``cost_time``, ``status_code``, ``headers``, ``response_data``, and ``error``
    when the view raised."""
    msg: dict[str, Any] = {"end_time": now, "cost_time": now - start}
    if response is None:
        msg["status_code"] = 500
        msg["headers"] = {}
        msg["response_data"] = None
    else:
        headers, content_type = response_headers(response, settings)
        msg["status_code"] = response.status_code
        msg["headers"] = headers
        msg["response_data"] = response_data(response, content_type, settings)
    if error is not None:
        msg["error"] = error_info(error, settings.redactor)
    return msg


def response_headers(response: Response, settings: TraceSettings) -> tuple[dict[str, str], str]:
    """Response headers as logged (``Set-Cookie`` and other secrets redacted), and the
    content type, found on the way rather than looked up again."""
    secret = settings.redactor.secret_header
    out: dict[str, str] = {}
    content_type = ""
    for name, value in response.headers:
        lowered = name.lower()
        if secret(name):
            value = REDACTED
        elif lowered in _URL_RESPONSE_HEADERS:
            value = settings.redactor.url(value)
        elif len(value) > HEADER_VALUE_LIMIT:
            value = cut(value)
        elif lowered == _CONTENT_TYPE:
            content_type = value
        out[name] = out[name] + ", " + value if name in out else value
    return out, content_type


def response_data(response: Response, content_type: str, settings: TraceSettings) -> Any:
    """The body when textual, within the capture limit; a stream or file is never read."""
    if not settings.capture_bodies:
        return None
    if response.is_streamed:
        # A file (direct_passthrough) or an error page Flask built from an exception:
        # complete, but held as an iterable the server is about to send.
        return marker("omitted", content_type=content_type, length=response.content_length)
    body = response.response
    if type(body) is list and len(body) == 1 and type(body[0]) is bytes:
        data = body[0]  # what Flask makes of a returned str, bytes or dict
    else:
        data = response.get_data()
    if not data:
        return ""
    kind = body_kind(content_type)
    if kind is None:
        return marker("omitted", content_type=content_type, length=len(data))
    return capture(data, kind, settings.body_limit, settings.redactor)


def stream_end_message(
    response: Response,
    error: dict[str, str] | None,
    sent: int,
    start: float,
    now: float,
    settings: TraceSettings,
) -> dict[str, Any]:
    """The end of a streamed response, written when the server closed the stream."""
    msg: dict[str, Any] = {
        "end_time": now,
        "cost_time": now - start,
        "status_code": response.status_code,
        "headers": response_headers(response, settings)[0],
        "response_data": marker("streamed", length=sent),
    }
    if error is not None:
        msg["error"] = error
    return msg


def _logged_path(path: str) -> str:
    """A WSGI path (bytes as latin-1) as text, as Werkzeug's ``request.path`` gives it;
    cut to ``VALUE_LIMIT`` first."""
    if len(path) > VALUE_LIMIT:
        return f"{_logged_path(path[:VALUE_LIMIT])}...[cut, {len(path)} in all]"
    return path if path.isascii() else path.encode("latin-1").decode("utf-8", "replace")
