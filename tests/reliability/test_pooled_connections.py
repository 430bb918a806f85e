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

import traced_http as traced
from traced_http.testing import capture_events

WAIT = 5.0
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class _LoopbackServer:
    """A raw HTTP server on a free loopback port; ``handle`` serves each accepted connection."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(WAIT)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.stopping = threading.Event()
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            if self.stopping.is_set():
                conn.close()
                return
            self.handle(conn)

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        # Closing a listening socket does not wake a thread blocked in accept(): a connection does.
        with socket.create_connection(self.listener.getsockname(), timeout=WAIT):
            pass
        self.accepter.join(timeout=WAIT + 1)
        self.listener.close()


class OneAnswerPerConnection(_LoopbackServer):
    """A loopback HTTP server that answers once per connection, then drops the next request."""

    def __init__(self) -> None:
        self.connections = 0
        self.threads: list[threading.Thread] = []
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        self.connections += 1
        thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
        self.threads.append(thread)
        thread.start()

    @staticmethod
    def _serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(WAIT)
            try:
                if _read_request(conn):
                    conn.sendall(_ANSWER)
                    _read_request(conn)  # the next request on this connection: dropped
            except OSError:
                pass

    def stop(self) -> None:
        super().stop()
        for thread in self.threads:
            thread.join(timeout=WAIT + 1)


def _read_request(conn: socket.socket) -> bool:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


@pytest.fixture
def server() -> Iterator[OneAnswerPerConnection]:
    server = OneAnswerPerConnection()
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


def test_requests_get_answers_every_call_of_such_a_server(server: OneAnswerPerConnection) -> None:
    answers = [requests.get(server.url, timeout=WAIT).status_code for _ in range(3)]
    assert answers == [200, 200, 200]
    assert server.connections == 3


def test_traced_get_answers_every_call_of_such_a_server(
    server: OneAnswerPerConnection, fresh_default_session: None
) -> None:
    answers = [traced.get(server.url, timeout=WAIT).status_code for _ in range(3)]
    assert answers == [200, 200, 200]


def test_traced_get_does_not_retry_a_read_timeout(fresh_default_session: None) -> None:
    """The retry is for a broken connection only: a slow server is not asked twice."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(WAIT)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        accepted: list[socket.socket] = []

        def accept_all() -> None:
            try:
                while True:
                    accepted.append(listener.accept()[0])
            except OSError:
                return

        thread = threading.Thread(target=accept_all, daemon=True)
        thread.start()
        with capture_events() as events, pytest.raises(requests.exceptions.ReadTimeout):
            traced.get(url, timeout=(WAIT, 0.2))
        for conn in accepted:
            conn.close()
    assert [e["event_des"] for e in events] == ["call"]
    assert events[0]["msg_dict"]["error"]["type"] == "ReadTimeout"
    assert len(accepted) == 1


class DropsEveryRequest(_LoopbackServer):
    """A loopback HTTP server that reads each request, counts it, and closes without answering."""

    def __init__(self) -> None:
        self.requests = 0
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(WAIT)
            try:
                if _read_request(conn):
                    self.requests += 1
            except OSError:
                pass


@pytest.mark.parametrize(
    ("plain", "traced_call"),
    [(requests.get, traced.get), (requests.put, traced.put), (requests.delete, traced.delete)],
    ids=["get", "put", "delete"],
)
def test_a_request_dropped_on_a_fresh_connection_is_sent_once(
    plain: Any, traced_call: Any, fresh_default_session: None
) -> None:
    """The server has the request: sending it again could repeat its effect."""
    server = DropsEveryRequest()
    try:
        with pytest.raises(requests.ConnectionError):
            plain(server.url, timeout=WAIT)
        with capture_events() as events, pytest.raises(requests.ConnectionError):
            traced_call(server.url, timeout=WAIT)
    finally:
        server.stop()
    assert server.requests == 2  # one from requests, one from traced
    assert [e["event_des"] for e in events] == ["call"]
    assert events[0]["msg_dict"]["error"]["type"] == "ConnectionError"


def test_a_reused_connection_that_broke_is_sent_again_once(
    server: OneAnswerPerConnection, fresh_default_session: None
) -> None:
    with capture_events() as events:
        traced.get(server.url, timeout=WAIT)
        traced.get(server.url, timeout=WAIT)
    assert [e["event_des"] for e in events] == ["call", "retry", "call"]
    assert events[1]["msg_dict"]["reason"].startswith("reused connection broke")
    assert server.connections == 2
