"""Downstream faults: the caller gets exactly what ``requests`` gives, and the log says so.

Each fault is served for real on 127.0.0.1: raw socket servers for a refused connection,
a hang, a response cut mid-body and a malformed response; a Flask app for 500/503. The
caller is a traced Flask view that makes the call and reports what it got back; a plain
``requests.Session`` against the same server is the reference for what it should get.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from flask import Flask, jsonify
from loopback import RawServer, closed_url
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.testing import events_of, serve_app

TIMEOUT = 0.5


def _hang(conn: socket.socket, stopping: threading.Event) -> None:
    stopping.wait(10)  # never answers; the client's read timeout ends the call


def _close_mid_response(conn: socket.socket, stopping: threading.Event) -> None:
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        b'{"partial": "only thi'
    )


def _malformed(conn: socket.socket, stopping: threading.Event) -> None:
    conn.sendall(b"THIS IS NOT HTTP AT ALL\r\n\r\n")


@pytest.fixture
def raw_server() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], str]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[socket.socket, threading.Event], None]) -> str:
        server = RawServer(answer, path="/data?x=1")
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def refused_url() -> str:
    return closed_url("/data")


def _caller_app(make_app: Callable[..., Flask], call: Callable[[str], requests.Response]) -> Flask:
    """A traced service whose view calls ``url`` and reports the outcome as JSON."""
    app = make_app("caller")
    outcome: dict[str, Any] = {}
    app.config["outcome"] = outcome

    @app.route("/call/<path:url>")
    def call_view(url: str) -> Any:
        try:
            response = call(url)
        except Exception as exc:
            outcome["exc"] = exc
            return jsonify(error=type(exc).__name__), 502
        outcome["response"] = response
        return jsonify(status=response.status_code)

    return app


def _run_caller(app: Flask, url: str) -> dict[str, Any]:
    response = app.test_client().get("/call/" + url)
    assert response.status_code in (200, 502)
    outcome: dict[str, Any] = app.config["outcome"]
    return outcome


def _plain_outcome(url: str, **kwargs: Any) -> tuple[BaseException | None, Any]:
    with requests.Session() as session:
        try:
            return None, session.get(url, timeout=TIMEOUT, **kwargs)
        except Exception as exc:
            return exc, None


def _assert_call_then_end(events: list[dict[str, Any]], url_prefix: str) -> dict[str, Any]:
    """One ``call`` to the server, inside the caller's trace, and the caller's ``end`` last."""
    kinds = [e["event_des"] for e in events]
    assert kinds[0] == "start"
    assert kinds[-1] == "end", kinds
    assert kinds.count("end") == 1
    calls = [e for e in events_of(events, "call") if e["msg_dict"]["url"].startswith(url_prefix)]
    assert len(calls) == 1, kinds
    (call,) = calls
    start = events[0]
    assert call["traceid"] == start["traceid"]
    assert call["parent_id"] == start["span_id"]
    assert events.index(call) < len(events) - 1
    return call


CLIENTS = {
    "traced.get": lambda url: traced.get(url, timeout=TIMEOUT),
    "TracedSession": lambda url: traced.TracedSession(timeout=TIMEOUT).get(url),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
@pytest.mark.parametrize(
    "fault",
    ["refused", "hang", "close_mid_response", "malformed"],
)
def test_a_failing_downstream_gives_the_callers_the_same_exception_as_requests(
    fault: str,
    client: str,
    raw_server: Callable[..., str],
    refused_url: str,
    make_app: Callable[..., Flask],
    trace_events: list[dict[str, Any]],
) -> None:
    if fault == "refused":
        url = refused_url
    else:
        url = raw_server(
            {"hang": _hang, "close_mid_response": _close_mid_response}.get(fault, _malformed)
        )
    expected, _ = _plain_outcome(url)
    assert expected is not None, "the reference client must fail too"

    app = _caller_app(make_app, CLIENTS[client])
    outcome = _run_caller(app, url)

    got = outcome.get("exc")
    assert type(got) is type(expected), (got, expected)
    call = _assert_call_then_end(trace_events, url.split("/data")[0])
    assert "status_code" not in call["msg_dict"]
    assert call["msg_dict"]["error"]["type"] == type(expected).__name__
    assert call["msg_dict"]["cost_time"] >= 0
    if fault == "hang":
        assert call["msg_dict"]["cost_time"] >= TIMEOUT * 0.9


class Failing:
    """A real downstream that answers ``status`` ``failures`` times, then 200."""

    def __init__(self) -> None:
        self.status = 500
        self.failures = 0
        self.hits = 0
        self.lock = threading.Lock()
        self.app = Flask("downstream")
        self.app.add_url_rule("/data", "data", self.answer)

    def reset(self, status: int, failures: int) -> None:
        with self.lock:
            self.status, self.failures, self.hits = status, failures, 0

    def answer(self) -> Any:
        with self.lock:
            self.hits += 1
            hit = self.hits
        if hit <= self.failures:
            return jsonify(error="down", hit=hit), self.status, {"X-Hit": str(hit)}
        return jsonify(ok=True, hit=hit), 200, {"X-Hit": str(hit)}


@pytest.fixture(scope="module")
def failing_server() -> Iterator[tuple[Failing, str]]:
    server = Failing()
    with serve_app(server.app) as url:
        yield server, url + "/data"


def _retrying_plain_session() -> requests.Session:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=_retry()))
    return session


def _retry() -> Retry:
    return Retry(
        total=2, status_forcelist=(502, 503, 504), backoff_factor=0.0, raise_on_status=False
    )


def _same_response(got: requests.Response, expected: requests.Response) -> None:
    assert got.status_code == expected.status_code
    assert got.json() == expected.json()
    assert got.headers["Content-Type"] == expected.headers["Content-Type"]


@pytest.mark.parametrize(
    ("status", "failures", "final", "retries"),
    [
        (500, 99, 500, 0),  # 500 is not retried: the caller gets it at once
        (503, 99, 503, 2),  # retried twice, then the last 503 as requests gives it
        (503, 1, 200, 1),  # one 503, retried, then the 200
    ],
)
def test_server_errors_with_retries_on_reach_the_caller_as_requests_gives_them(
    status: int,
    failures: int,
    final: int,
    retries: int,
    failing_server: tuple[Failing, str],
    make_app: Callable[..., Flask],
    trace_events: list[dict[str, Any]],
) -> None:
    server, url = failing_server
    server.reset(status, failures)
    with _retrying_plain_session() as plain:
        expected = plain.get(url, timeout=5)
    server.reset(status, failures)

    session = traced.TracedSession(retries=_retry(), timeout=5)
    app = _caller_app(make_app, session.get)
    outcome = _run_caller(app, url)

    got = outcome["response"]
    assert expected.status_code == final
    _same_response(got, expected)
    call = _assert_call_then_end(trace_events, url)
    assert call["msg_dict"]["status_code"] == final
    retry_events = events_of(trace_events, "retry")
    assert len(retry_events) == retries
    for attempt, event in enumerate(retry_events, start=1):
        assert event["span_id"] == call["span_id"]
        assert event["msg_dict"]["attempt"] == attempt
        assert event["msg_dict"]["status"] == status
        assert trace_events.index(event) < trace_events.index(call)


def test_an_int_retries_setting_retries_503_and_gives_the_last_response(
    failing_server: tuple[Failing, str],
    make_app: Callable[..., Flask],
    trace_events: list[dict[str, Any]],
) -> None:
    """``TracedSession(retries=2)``: 503 answers are retried, and the last one returned."""
    server, url = failing_server
    server.reset(503, 99)
    app = _caller_app(make_app, traced.TracedSession(retries=2, timeout=5).get)
    outcome = _run_caller(app, url)

    got = outcome["response"]
    assert got.status_code == 503
    assert got.json() == {"error": "down", "hit": 3}
    call = _assert_call_then_end(trace_events, url)
    assert call["msg_dict"]["status_code"] == 503
    assert [e["msg_dict"]["attempt"] for e in events_of(trace_events, "retry")] == [1, 2]
