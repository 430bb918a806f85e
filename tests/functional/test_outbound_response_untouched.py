"""A traced call hands the caller the response plain ``requests`` would.

The body is read when the caller (or ``Session.send``) reads it, never earlier: redirect
handling, response hooks and ``Response.elapsed`` see what they see without tracing. The
call's event is still written once per hop, when the body was read, closed or dropped.
"""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from clients import adapter_session
from flask import Flask, Response
from loopback import RawServer

import traced_http as traced
from traced_http.testing import capture_events, events_of, serve_app

WAIT = 5.0
GAP = 0.5  # seconds between the headers and the body of the slow answer


def _traced_session() -> requests.Session:
    return traced.TracedSession()


SESSIONS: list[Callable[[], requests.Session]] = [
    requests.Session,
    _traced_session,
    adapter_session,
]
IDS = ["requests", "TracedSession", "TracingAdapter"]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    app = Flask("upstream")

    @app.get("/mislabelled-redirect")
    def mislabelled() -> Response:
        # A gzip label on a body that is not gzip: requests reads such a redirect's
        # body tolerantly and follows it.
        return Response(
            b"this is not gzip",
            status=302,
            headers={"Location": "/target", "Content-Encoding": "gzip"},
        )

    @app.get("/target")
    def target() -> Response:
        return Response('{"ok": true}', content_type="application/json")

    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("make_session", SESSIONS, ids=IDS)
def test_a_mislabelled_redirect_is_followed(make_session: Any, base: str) -> None:
    with capture_events() as events, make_session() as session:
        answer = session.get(f"{base}/mislabelled-redirect", timeout=WAIT)

    assert answer.status_code == 200
    assert answer.json() == {"ok": True}
    assert [h.status_code for h in answer.history] == [302]
    if make_session is not requests.Session:
        hops = events_of(events, "call")
        assert [h["msg_dict"]["url"].rsplit("/", 1)[1] for h in hops] == [
            "mislabelled-redirect",
            "target",
        ]
        assert hops[1]["msg_dict"]["response_data"] == {"ok": True}


BODY = b"0123456789"


def _slow_body(conn: socket.socket, stopping: threading.Event) -> None:
    """The headers at once, the body ``GAP`` seconds later."""
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BODY)
    )
    stopping.wait(GAP)  # the transfer time of a large body
    conn.sendall(BODY)


@pytest.fixture
def slow() -> Iterator[RawServer]:
    server = RawServer(_slow_body)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("make_session", SESSIONS, ids=IDS)
def test_elapsed_is_the_time_to_the_headers(make_session: Any, slow: RawServer) -> None:
    with capture_events() as events, make_session() as session:
        answer = session.get(slow.url, timeout=WAIT)

    assert answer.content == BODY
    assert answer.elapsed.total_seconds() < GAP
    if make_session is not requests.Session:
        (call,) = events_of(events, "call")
        assert call["msg_dict"]["cost_time"] >= GAP  # the call's time includes the body
        assert call["msg_dict"]["response_data"] == "0123456789"


@pytest.mark.parametrize("make_session", SESSIONS, ids=IDS)
def test_a_response_hook_reads_the_raw_body(make_session: Any, slow: RawServer) -> None:
    seen: list[bytes] = []

    def hook(response: requests.Response, **kwargs: Any) -> None:
        seen.append(response.raw.read())

    with capture_events() as events, make_session() as session:
        answer = session.get(slow.url, timeout=WAIT, hooks={"response": hook})

    assert seen == [BODY]
    assert answer.content == b""  # as requests: the hook consumed it
    if make_session is not requests.Session:
        assert len(events_of(events, "call")) == 1


@pytest.mark.parametrize("make_session", SESSIONS[1:], ids=IDS[1:])
def test_a_hook_that_raises_still_gets_its_call_logged_once(make_session: Any, base: str) -> None:
    def hook(response: requests.Response, **kwargs: Any) -> None:
        raise RuntimeError("hook failed")

    with capture_events() as events, make_session() as session:
        with pytest.raises(RuntimeError, match="hook failed"):
            session.get(f"{base}/target", timeout=WAIT, hooks={"response": hook})
        gc.collect()  # the unread response is dropped with the exception's traceback
        session.get(f"{base}/target", timeout=WAIT)  # the next call writes the dropped one's

    dropped, after = events_of(events, "call")
    assert dropped["msg_dict"]["status_code"] == 200
    assert dropped["msg_dict"]["response_data"] == {"_body": "not_read"}
    assert after["msg_dict"]["response_data"] == {"ok": True}
    assert dropped["span_id"] != after["span_id"]


def test_a_response_closed_unread_is_logged_once(base: str) -> None:
    adapter = traced.TracingAdapter()
    request = requests.Request("GET", f"{base}/target").prepare()
    with capture_events() as events:
        response = adapter.send(request, timeout=WAIT)
        assert events_of(events, "call") == []  # nobody has read the body yet
        response.close()
        response.close()
    (call,) = events_of(events, "call")
    assert call["msg_dict"]["status_code"] == 200
    assert call["msg_dict"]["response_data"] == {"_body": "not_read"}


class SdkResponse(requests.Response):
    """An SDK's own response class, made by its adapter's ``build_response``."""


class SdkAdapter(traced.TracingAdapter):
    def build_response(self, req: Any, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = SdkResponse
        return response


def test_a_response_class_of_the_adapters_own_is_kept(base: str) -> None:
    with capture_events() as events, requests.Session() as session:
        session.mount("http://", SdkAdapter())
        answer = session.get(f"{base}/target", timeout=WAIT)

    assert type(answer) is SdkResponse
    assert answer.json() == {"ok": True}
    (call,) = events_of(events, "call")
    assert call["msg_dict"]["status_code"] == 200
