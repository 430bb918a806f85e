"""An app for the in-process memory tests: every request makes one traced outbound call.

The call goes through the real ``TracedSession`` and ``TracingAdapter`` (headers decided,
``call`` event written, body captured); only the transport under them is replaced by an
in-process answer, so that 100,000 requests take seconds, not minutes of sockets.
"""

from __future__ import annotations

import io
import logging
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask, Response, g, request
from requests import PreparedRequest
from requests import Response as CallResponse
from requests.adapters import HTTPAdapter
from urllib3 import HTTPResponse

import traced_http as traced
from flask_hooks import Tracing

DOWNSTREAM = "http://downstream.test/item"
_ANSWER = b'{"item": "ok", "count": 3}'


class CannedTransport(HTTPAdapter):
    """Answers every request with a small JSON body, in process: no socket, no server."""

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> CallResponse:
        raw = HTTPResponse(
            body=io.BytesIO(_ANSWER),
            headers={"Content-Type": "application/json", "Content-Length": str(len(_ANSWER))},
            status=200,
            preload_content=False,
        )
        return self.build_response(request, raw)


class InProcessTracingAdapter(traced.TracingAdapter, CannedTransport):
    """``TracingAdapter`` over the canned transport (its ``super().send`` lands there)."""


def traced_session() -> traced.TracedSession:
    """A ``TracedSession`` whose calls are answered in process."""
    session = traced.TracedSession()
    session.mount("http://", InProcessTracingAdapter())
    return session


class MemoryApp:
    """The app, the shared session of its calls, and weak references to per-request objects.

    Routes: ``/work`` (a call on the shared session and a user event), ``/own-session``
    (a call on a session made for the request), ``/fan-out`` (two calls from pool
    threads, through ``traced.bind``), ``/stream`` (a streamed body), ``/fail`` (the view
    raises).
    """

    def __init__(self) -> None:
        self.app = Flask("memory")
        Tracing(self.app, service="memory")
        self.app.logger.disabled = True  # /fail's traceback is expected, not news
        self.session = traced_session()
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="fan-out")
        self.per_request: list[weakref.ref[Any]] = []
        self.track = False
        self._routes()

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.session.close()

    def _remember(self, obj: Any) -> None:
        if self.track:
            self.per_request.append(weakref.ref(obj))

    def _routes(self) -> None:
        app, session = self.app, self.session

        @app.get("/work")
        def work() -> dict[str, Any]:
            answer = session.get(DOWNSTREAM, params={"n": request.args.get("n", "")})
            traced.add_event("worked", {"status": answer.status_code})
            self._remember(request._get_current_object())  # type: ignore[attr-defined]
            return {"traceid": g.traceid, "down": answer.json()}

        @app.get("/own-session")
        def own_session() -> dict[str, Any]:
            with traced_session() as own:
                self._remember(own)
                answer = own.get(DOWNSTREAM)
            return {"traceid": g.traceid, "down": answer.json()}

        @app.get("/fan-out")
        def fan_out() -> dict[str, Any]:
            call = traced.bind(lambda: session.get(DOWNSTREAM).json())
            results = [f.result(timeout=10) for f in [self.pool.submit(call) for _ in range(2)]]
            return {"traceid": g.traceid, "down": results}

        @app.get("/stream")
        def stream() -> Response:
            def chunks() -> Iterator[str]:
                for part in ("a", "b", "c"):
                    yield f"{part}:{traced.current_traceid()}\n"

            return Response(chunks(), mimetype="text/plain")

        @app.get("/fail")
        def fail() -> str:
            raise RuntimeError("the view failed, as views do")


class CountingJsonHandler(logging.Handler):
    """Formats every event as the JSON formatter writes it, counts the lines, keeps none."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(traced.JsonFormatter())
        self.lines = 0
        self.last: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.last = self.format(record)
        self.lines += 1
