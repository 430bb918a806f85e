"""``Tracing``: the Flask extension whose hooks open and close a trace per request.

The opening hook (the first URL value preprocessor, so it runs before every
``before_request`` function) reads the trace headers, opens the span and writes ``start``;
``after_request`` echoes the id on the response; ``teardown_request`` writes ``end``
(it runs for every request, also when the view raised) and resets the context, so
nothing leaks into the next request served by the thread. A streamed response gets its
``end`` when the server closes the stream. The hooks never read the request body: a
textual one is recorded as the application reads it, and described in ``end``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextvars import Token
from typing import Any

from flask import Flask, Response, g, request
from flask.globals import request_ctx
from werkzeug.wsgi import ClosingIterator

from flask_hooks.config import TracingConfig
from flask_hooks.request_body import RecordedInput, watch_body
from flask_hooks.request_events import end_message, recorded_body, start_message, stream_end_message
from flask_hooks.streaming import WatchedStream, stream_error
from traced_http.context import TraceContext, activate, deactivate
from traced_http.events import describe_failure, emit, enabled
from traced_http.ids import new_span_id
from traced_http.log_format import ensure_visible
from traced_http.otlp import start_configured_export
from traced_http.schema import END, START
from traced_http.settings import UNSET, OrUnset, given

__all__ = ["EXTENSION_KEY", "Tracing", "register_handler"]

EXTENSION_KEY = "traced_http"
_OPEN_REQUEST_KEY = "traced_http.request"
_NO_BODY = frozenset((100, 101, 102, 103, 204, 304))
_NOT_ECHOED = frozenset(("generated", "traceparent"))


class Tracing:
    """Trace every request of a Flask app: ``Tracing(app)`` or ``Tracing().init_app(app)``.

    Options are those of ``app.config["TRACE_*"]`` (options win); see
    ``traced_http.settings.SETTINGS`` or the README's table. One instance may serve several
    apps; each app keeps its own settings in ``app.extensions["traced_http"]``.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        service: OrUnset[str | None] = UNSET,
        id_headers: OrUnset[Sequence[str]] = UNSET,
        propagate_headers: OrUnset[Sequence[str]] = UNSET,
        propagate_to: OrUnset[Sequence[str] | None] = UNSET,
        response_header: OrUnset[str | None] = UNSET,
        capture_bodies: OrUnset[bool] = UNSET,
        body_limit: OrUnset[int] = UNSET,
        redact_headers: OrUnset[Sequence[str]] = UNSET,
        redact_fields: OrUnset[Sequence[str]] = UNSET,
        exclude_paths: OrUnset[Sequence[str]] = UNSET,
        otlp_endpoint: OrUnset[str | None] = UNSET,
    ) -> None:
        self.options = given(locals())  # the settings passed; app.config fills in the rest
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the hooks on ``app``; settings are validated here, once."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError(f"tracing is already set up on the app {app.name!r}")
        config = TracingConfig.build(app.name, app.config, self.options)
        hooks = _Hooks(config)
        app.extensions[EXTENSION_KEY] = config
        # The trace opens first of all the app's request processing: Flask runs URL value
        # preprocessors before any before_request function, and one that aborts (an
        # unknown tenant -> 404) must still give a traced request. The end hooks come last
        # among after/teardown functions (those run in reverse order).
        app.url_value_preprocessors.setdefault(None, []).insert(0, hooks.open_trace)
        app.after_request_funcs.setdefault(None, []).insert(0, hooks.after_request)
        app.teardown_request_funcs.setdefault(None, []).insert(0, hooks.teardown_request)
        ensure_visible()  # before export's handler: that one alone must not hide the events
        start_configured_export(config.otlp_endpoint)


# ``register_handler(app)``: the name apps written with before/after-request hooks already
# call; the class itself, so that its keyword parameters stay typed.
register_handler = Tracing


class _OpenRequest:
    """The state of a traced request that the hooks share, from its start to its end;
    kept in the WSGI environ.

    ``owner`` is the request context that opened the trace. A copy of it
    (``copy_current_request_context``) shares the environ but is another object: its
    teardown, in a worker thread, is not the end of the request.
    """

    __slots__ = (
        "body",
        "ctx",
        "echo_also",
        "error",
        "owner",
        "response",
        "start",
        "streamed",
        "token",
    )

    def __init__(
        self, ctx: TraceContext, token: Token[TraceContext | None], start: float, owner: object
    ) -> None:
        self.ctx = ctx
        self.token = token
        self.start = start
        self.echo_also: str | None = None
        self.owner = owner
        self.body: RecordedInput | None = None
        self.response: Response | None = None
        self.error: BaseException | None = None
        self.streamed = False


class _Hooks:
    """The three hooks, bound to one app's compiled configuration."""

    __slots__ = ("config", "excluded")

    def __init__(self, config: TracingConfig) -> None:
        self.config = config
        self.excluded = _PathMatcher(config.exclude_paths) if config.exclude_paths else None

    def open_trace(self, endpoint: str | None, values: dict[str, Any] | None) -> None:
        """Runs as the first URL value preprocessor (before every before_request)."""
        owner = request_ctx._get_current_object()  # type: ignore[attr-defined]
        environ = owner.request.environ
        config = self.config
        excluded = self.excluded
        if excluded is not None and excluded(environ.get("PATH_INFO") or "/"):
            return
        incoming = config.inbound.extract(environ)
        settings = config.settings
        ctx = TraceContext.continuing(incoming, new_span_id(), settings)
        g.traceid = ctx.trace_id
        start = time.time()
        state = environ[_OPEN_REQUEST_KEY] = _OpenRequest(ctx, activate(ctx), start, owner)
        source = incoming.source
        header = config.response_header
        if header and source not in _NOT_ECHOED and source != header.lower():
            # An id that came as X-Request-ID goes back as X-Request-ID too, as clients expect.
            state.echo_also = "-".join(part.capitalize() for part in source.split("-"))
        if enabled():
            try:
                state.body = watch_body(environ, settings)
                rule = owner.request.url_rule
                route = rule.rule if rule is not None else None
                msg = start_message(environ, incoming, config, start, state.body, route)
            except Exception as exc:
                msg = {"method": environ.get("REQUEST_METHOD"), "start_time": start}
                msg.update(describe_failure("start message", exc))
            emit(ctx, START, msg, now=start)

    def after_request(self, response: Response) -> Response:
        environ = request.environ
        state: _OpenRequest | None = environ.get(_OPEN_REQUEST_KEY)
        if state is None:
            return response
        header = self.config.response_header
        if header:
            _echo(response, header, state.ctx.trace_id)
            if state.echo_also:
                _echo(response, state.echo_also, state.ctx.trace_id)
        state.response = response
        if _is_live_stream(response):
            state.streamed = True
            # No body is sent for HEAD, 1xx, 204 and 304: an unread stream is no disconnect.
            head = environ.get("REQUEST_METHOD") == "HEAD" or response.status_code in _NO_BODY
            settings = self.config.settings

            def on_end(error: BaseException | None, finished: bool, sent: int) -> None:
                # Runs inside the server's close(): like the other messages, never raises.
                end = time.time()
                if state.body is not None:
                    # Not at teardown: a stream_with_context generator reads the body later.
                    state.body.restore(environ)
                try:
                    failure = stream_error(error or state.error, finished, head, settings.redactor)
                    msg = stream_end_message(response, failure, sent, state.start, end, settings)
                    if state.body is not None:
                        msg["request_data"] = recorded_body(state.body, settings)
                except Exception as exc:
                    msg = {"end_time": end, "cost_time": end - state.start}
                    msg.update(describe_failure("end message", exc))
                emit(state.ctx, END, msg, now=end)

            response.response = WatchedStream(response.response, on_end, state.ctx)
        return response

    def teardown_request(self, error: BaseException | None) -> None:
        current = request_ctx._get_current_object()  # type: ignore[attr-defined]
        environ = current.request.environ
        state: _OpenRequest | None = environ.get(_OPEN_REQUEST_KEY)
        if state is None or state.owner is not current:
            return  # not traced, or a copy of the request context ending in another thread
        del environ[_OPEN_REQUEST_KEY]
        deactivate(state.token)
        if state.streamed:
            state.error = error  # the stream's end, written at close, reports it
            return
        body = state.body
        if body is not None:
            body.restore(environ)
        if enabled():
            now = time.time()
            settings = self.config.settings
            try:
                msg = end_message(state.response, error, state.start, now, settings)
                if body is not None:
                    msg["request_data"] = recorded_body(body, settings)
            except Exception as exc:
                msg = {"end_time": now, "cost_time": now - state.start}
                msg.update(describe_failure("end message", exc))
            emit(state.ctx, END, msg, now=now)


class _PathMatcher:
    """Paths matched by whole segments: ``/health`` is ``/health`` and ``/health/...``,
    never ``/healthcare``; a trailing ``/`` in a configured path changes nothing."""

    __slots__ = ("exact", "prefixes")

    def __init__(self, paths: tuple[str, ...]) -> None:
        bases = {path.rstrip("/") for path in paths}
        self.exact = frozenset(base or "/" for base in bases)
        self.prefixes = tuple(sorted(base + "/" for base in bases))

    def __call__(self, path: str) -> bool:
        return path in self.exact or path.startswith(self.prefixes)


def _is_live_stream(response: Response) -> bool:
    """A body produced while it is sent (a generator), whose end comes at close.

    Error pages that Flask builds from an ``HTTPException`` look streamed too (a
    ``ClosingIterator``) but are complete: their end is written at teardown. So is a file
    sent with ``direct_passthrough``, which the hooks leave untouched for the server.
    """
    return (
        response.is_streamed
        and not response.direct_passthrough
        and not isinstance(response.response, ClosingIterator)
    )


def _echo(response: Response, header: str, trace_id: str) -> None:
    """Put the id on the response, and let browsers read it on a CORS response.

    One pass over the headers, comparing lowercased names only when the length
    matches: Werkzeug's ``in`` and ``[]=`` each scan and lowercase every header.
    """
    headers = response.headers
    wanted = header.lower()
    size = len(wanted)
    present = cors = False
    for name, _ in headers:
        length = len(name)
        if length == size and name.lower() == wanted:
            present = True
        elif length == _ACAO_LENGTH and name.lower() == _ACAO:
            cors = True
    if present:
        headers.set(header, trace_id)
    else:
        headers.add(header, trace_id)
    if cors:
        exposed = headers.get("Access-Control-Expose-Headers")
        if not exposed:
            headers["Access-Control-Expose-Headers"] = header
        elif wanted not in {h.strip().lower() for h in exposed.split(",")}:
            headers["Access-Control-Expose-Headers"] = f"{exposed}, {header}"


_ACAO = "access-control-allow-origin"
_ACAO_LENGTH = len(_ACAO)
