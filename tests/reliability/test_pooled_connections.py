"""``traced.get`` pools connections; a kept-alive connection the server closes must not fail a GET.

Found by the gevent load run (about 1 request in 4,500 failed with
``ConnectionError('Connection aborted.', RemoteDisconnected(...))``): gunicorn closes an
idle kept-alive connection after 2 s, and a call sent on it at that moment gets no answer.
A server may close an idle connection at any time (RFC 9112, 9.3.1 and 9.5), and a client
that reuses connections may then retry a request with an idempotent method on a new one.
``requests.get`` never meets this: it opens a new connection for every call.
``traced.get``, its traced replacement, reuses pooled ones: it sends a call again only
when the pooled connection it reused broke, never one dropped on a connection opened for
it (the server may have received that request).

The server here makes the race certain: it answers the first request on a connection with
keep-alive, then closes the connection when the next request on it arrives.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from loopback import RawServer, read_request_head

import traced_http as traced
from traced_http.testing import capture_events

WAIT = 5.0
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def _answer_then_drop_the_next(conn: socket.socket, stopping: threading.Event) -> None:
    """Answer the first request with keep-alive; read the next one and close unanswered."""
    conn.sendall(_ANSWER)
    read_request_head(conn)


@pytest.fixture
def server() -> Iterator[RawServer]:
    server = RawServer(_answer_then_drop_the_next)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_default_session() -> Iterator[None]:
    """``traced.get`` on a default session of its own, dropped (connections too) after."""
    traced.set_default_session(None)
    try:
        yield
    finally:
        traced.default_session().close()
        traced.set_default_session(None)


def test_requests_get_answers_every_call_of_such_a_server(server: RawServer) -> None:
    answers = [requests.get(server.url, timeout=WAIT).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert len(server.conns) == 3


def test_traced_get_answers_every_call_of_such_a_server(
    server: RawServer, fresh_default_session: None
) -> None:
    answers = [traced.get(server.url, timeout=WAIT).status_code for _ in range(3)]
    assert answers == [200, 200, 200]


def test_traced_get_does_not_retry_a_read_timeout(fresh_default_session: None) -> None:
    """The retry is for a broken connection only: a slow server is not asked twice."""
    server = RawServer(lambda conn, stopping: stopping.wait(WAIT))  # never answers
    try:
        with capture_events() as events, pytest.raises(requests.exceptions.ReadTimeout):
            traced.get(server.url, timeout=(WAIT, 0.2))
    finally:
        server.stop()
    assert [e["event_des"] for e in events] == ["call"]
    assert events[0]["msg_dict"]["error"]["type"] == "ReadTimeout"
    assert len(server.conns) == 1


@pytest.mark.parametrize(
    ("plain", "traced_call"),
    [(requests.get, traced.get), (requests.put, traced.put), (requests.delete, traced.delete)],
    ids=["get", "put", "delete"],
)
def test_a_request_dropped_on_a_fresh_connection_is_sent_once(
    plain: Any, traced_call: Any, fresh_default_session: None
) -> None:
    """The server has the request: sending it again could repeat its effect."""
    dropped: list[socket.socket] = []
    server = RawServer(lambda conn, stopping: dropped.append(conn))  # closes unanswered
    try:
        with pytest.raises(requests.ConnectionError):
            plain(server.url, timeout=WAIT)
        with capture_events() as events, pytest.raises(requests.ConnectionError):
            traced_call(server.url, timeout=WAIT)
    finally:
        server.stop()
    assert len(dropped) == 2  # one from requests, one from traced
    assert [e["event_des"] for e in events] == ["call"]
    assert events[0]["msg_dict"]["error"]["type"] == "ConnectionError"


def test_a_reused_connection_that_broke_is_sent_again_once(
    server: RawServer, fresh_default_session: None
) -> None:
    with capture_events() as events:
        traced.get(server.url, timeout=WAIT)
        traced.get(server.url, timeout=WAIT)
    assert [e["event_des"] for e in events] == ["call", "retry", "call"]
    assert events[1]["msg_dict"]["reason"].startswith("reused connection broke")
    assert len(server.conns) == 2
