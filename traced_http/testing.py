"""Testing kit: capture the events of a test, and serve a whole chain in one process.

``capture_events()`` is the real logging path (the same ``JsonFormatter``), not a fake:
what a test sees is what the log would hold. ``intercept_calls()`` keeps a block's
outbound calls in the process (through ``responses``), and ``route_to_app`` hands those
to a Flask app's test client, so gateway -> orders -> billing runs in one thread, each
app with its own ``Tracing``, and forms one trace.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from traced_http.log_format import LOGGER_NAME, JsonFormatter
from traced_http.viewer.tree import SpanNode, build_tree

if TYPE_CHECKING:
    import responses
    from flask import Flask
    from requests import PreparedRequest

__all__ = [
    "SpanNode",
    "assert_single_trace",
    "build_tree",
    "capture_events",
    "events_of",
    "intercept_calls",
    "route_to_app",
    "serve_app",
]


class _ListHandler(logging.Handler):
    """Appends each event, as the JSON formatter writes it, parsed back into a dict."""

    def __init__(self, sink: list[dict[str, Any]]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink
        self.lock_append = threading.Lock()
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        event = json.loads(line)
        if "event_des" in event:
            with self.lock_append:
                self.sink.append(event)


@contextmanager
def capture_events() -> Iterator[list[dict[str, Any]]]:
    """Collect the events written inside the block, from any thread, in a live list."""
    events: list[dict[str, Any]] = []
    logger = logging.getLogger(LOGGER_NAME)
    handler = _ListHandler(events)
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@contextmanager
def intercept_calls() -> Iterator[responses.RequestsMock]:
    """Keep the block's outbound calls in the process; yield the ``responses.RequestsMock``.

    A call is answered by a route added to it (``route_to_app``, ``rsps.add``); any other
    fails with ``requests.ConnectionError``, as a host that is down would. Routes need not
    all be called. The ``traced_responses`` fixture is this block around a whole test.
    """
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def route_to_app(rsps: responses.RequestsMock, base_url: str, app: Flask) -> None:
    """Serve every call under ``base_url`` (any method, path, query, body) with ``app``.

    The app's test client answers, so its status, headers and body come back as the
    ``requests.Response``; its own hooks run, so its events join the caller's trace.
    """
    base = base_url.rstrip("/")
    prefix = urlsplit(base).path
    pattern = re.compile(re.escape(base) + r"(?:[/?#].*)?$")
    client = app.test_client()

    def serve(request: PreparedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        parts = urlsplit(request.url or "")
        path = parts.path[len(prefix) :] if prefix and parts.path.startswith(prefix) else parts.path
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        response = client.open(
            path or "/",
            method=request.method or "GET",
            query_string=parts.query,
            headers=headers,
            data=body if isinstance(body, bytes) else None,
            buffered=True,
        )
        try:
            out_headers = [
                (k, v)
                for k, v in response.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding")
            ]
            return response.status_code, out_headers, response.get_data()
        finally:
            response.close()

    rsps.add(_any_method_route()(pattern, serve))


@functools.cache
def _any_method_route() -> Any:
    """A ``responses`` callback route for every HTTP method (one route, not seven).

    Built on first use: ``responses`` is a test dependency, and this module is loaded by
    the pytest plugin wherever the package is installed.
    """
    import responses

    class AnyMethodCallback(responses.CallbackResponse):
        def __init__(self, url: re.Pattern[str], callback: Any) -> None:
            super().__init__("GET", url, callback)

        def matches(self, request: PreparedRequest) -> tuple[bool, str]:
            self.method = request.method or "GET"
            return super().matches(request)

    return AnyMethodCallback


@contextmanager
def serve_app(app: Flask, host: str = "127.0.0.1") -> Iterator[str]:
    """Run ``app`` on a real threaded WSGI server on a free port; yield its base URL.

    The server is stopped, and its thread joined, when the block ends.
    """
    from werkzeug.serving import make_server

    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},  # shutdown waits for one poll: keep it short
        name=f"serve-{app.name}",
        daemon=True,
    )
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def assert_single_trace(events: Iterable[dict[str, Any]]) -> str:
    """Assert that all events carry one and the same trace id, and return it.

    When the ids differ, the message names the calls that sent no trace header because
    their host is outside ``propagate_to``: the usual reason a chain breaks in a test.
    """
    events = list(events)
    ids = {event.get("traceid") for event in events}
    if not ids:
        raise AssertionError("no events were captured")
    if len(ids) != 1 or None in ids:
        message = f"expected one trace id, found {sorted(map(str, ids))}"
        withheld = []
        for event in events:
            msg = event.get("msg_dict")
            if (
                event.get("event_des") == "call"
                and isinstance(msg, dict)
                and msg.get("propagated") is False
            ):
                withheld.append(f"{msg.get('method')} {msg.get('url')} from {event.get('service')}")
        if withheld:
            message += (
                "; these calls sent no trace header, their host being outside propagate_to: "
                + ", ".join(withheld)
            )
        raise AssertionError(message)
    (trace_id,) = ids
    assert isinstance(trace_id, str)
    return trace_id


def events_of(
    events: Iterable[dict[str, Any]], event_des: str, service: str | None = None
) -> list[dict[str, Any]]:
    """The events of one kind (``start``, ``call``...), optionally of one service."""
    return [
        e
        for e in events
        if e.get("event_des") == event_des and (service is None or e.get("service") == service)
    ]
