"""Retries: each retried attempt logs a ``retry`` event, then the call logs its ``call``.

A real flaky server on 127.0.0.1 answers 503 a given number of times, then 200.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from clients import adapter_session
from flask import Flask, jsonify, request
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.testing import events_of, serve_app


class Flaky:
    """Answers 503 ``failures`` times, then 200; remembers the traceparent of each hit."""

    def __init__(self) -> None:
        self.failures = 0
        self.traceparents: list[str] = []
        self.lock = threading.Lock()
        self.app = Flask("flaky")
        self.app.add_url_rule("/", "flaky", self.answer, methods=["GET", "POST"])

    def reset(self, failures: int) -> None:
        with self.lock:
            self.failures = failures
            self.traceparents = []

    def answer(self) -> Any:
        with self.lock:
            self.traceparents.append(request.headers.get("traceparent", ""))
            hit = len(self.traceparents)
        if hit <= self.failures:
            return "busy", 503
        return jsonify(hit=hit)


@pytest.fixture(scope="module")
def flaky_server() -> Iterator[tuple[Flaky, str]]:
    server = Flaky()
    with serve_app(server.app) as url:
        yield server, url + "/"


@pytest.fixture
def flaky(flaky_server: tuple[Flaky, str]) -> Callable[[int], tuple[Flaky, str]]:
    def start(failures: int) -> tuple[Flaky, str]:
        flaky_server[0].reset(failures)
        return flaky_server

    return start


CLIENTS: dict[str, Callable[[Any], Any]] = {
    "TracedSession": lambda retries: traced.TracedSession(retries=retries),
    "TracingAdapter": lambda retries: adapter_session(max_retries=retries),
}
POLICIES = {
    "int": lambda: 2,
    "Retry": lambda: Retry(total=2, status_forcelist=[503]),
}


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize("policy", list(POLICIES))
def test_each_retried_attempt_logs_a_retry_event_then_the_call(
    trace_events, flaky, client_name, policy
):
    server, url = flaky(2)
    client = CLIENTS[client_name](POLICIES[policy]())

    with traced.trace("job") as ctx:
        response = client.get(url)

    assert response.status_code == 200
    assert response.json() == {"hit": 3}
    retries = events_of(trace_events, "retry")
    (call,) = events_of(trace_events, "call")
    assert [e["msg_dict"]["attempt"] for e in retries] == [1, 2]
    assert [e["msg_dict"]["status"] for e in retries] == [503, 503]
    assert [e["msg_dict"]["reason"] for e in retries] == ["status 503", "status 503"]
    assert {e["msg_dict"]["method"] for e in retries} == {"GET"}
    assert call["msg_dict"]["status_code"] == 200
    assert {e["span_id"] for e in [*retries, call]} == {call["span_id"]}
    assert {e["parent_id"] for e in [*retries, call]} == {ctx.span_id}
    assert [e["event_des"] for e in trace_events] == ["start", "retry", "retry", "call", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3, 4, 5]
    expected = f"00-{ctx.trace_id}-{call['span_id']}-01"
    assert server.traceparents == [expected] * 3


def test_retry_policy_that_raises_on_status_gives_retry_error(trace_events, flaky):
    server, url = flaky(5)
    client = traced.TracedSession(retries=Retry(total=1, status_forcelist=[503]))

    with pytest.raises(requests.exceptions.RetryError):
        client.get(url)

    assert len(server.traceparents) == 2
    (retry,) = events_of(trace_events, "retry")
    (call,) = events_of(trace_events, "call")
    assert retry["msg_dict"]["attempt"] == 1
    assert call["msg_dict"]["error"]["type"] == "RetryError"
    assert retry["span_id"] == call["span_id"]


def test_int_retries_give_the_last_response_when_exhausted(trace_events, flaky):
    server, url = flaky(5)

    response = traced.TracedSession(retries=1).get(url)

    assert response.status_code == 503
    assert len(server.traceparents) == 2
    assert [e["msg_dict"]["attempt"] for e in events_of(trace_events, "retry")] == [1]
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["status_code"] == 503


def test_int_retries_leave_non_idempotent_methods_alone(trace_events, flaky):
    server, url = flaky(1)

    response = traced.TracedSession(retries=2).post(url, json={"order": 1})

    assert response.status_code == 503
    assert len(server.traceparents) == 1
    assert events_of(trace_events, "retry") == []


def test_default_session_does_not_retry(trace_events, flaky):
    server, url = flaky(1)

    assert traced.get(url).status_code == 503

    assert len(server.traceparents) == 1
    assert events_of(trace_events, "retry") == []


def test_connection_errors_are_retried_with_their_reason(trace_events):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    client = traced.TracedSession(retries=Retry(total=2, backoff_factor=0))

    with pytest.raises(requests.exceptions.ConnectionError):
        client.get(url)

    retries = events_of(trace_events, "retry")
    (call,) = events_of(trace_events, "call")
    assert [e["msg_dict"]["attempt"] for e in retries] == [1, 2]
    assert {e["msg_dict"]["status"] for e in retries} == {None}
    assert all("NewConnectionError" in e["msg_dict"]["reason"] for e in retries)
    assert call["msg_dict"]["error"]["type"] == "ConnectionError"
    assert call["parent_id"] is None
    assert {e["traceid"] for e in [*retries, call]} == {call["traceid"]}


def test_retry_events_redact_secret_query_fields(trace_events, flaky):
    _, url = flaky(1)

    traced.TracedSession(retries=1).get(url, params={"api_key": "k-secret-value", "q": "1"})

    (retry,) = events_of(trace_events, "retry")
    assert retry["msg_dict"]["url"].endswith("/?api_key=[REDACTED]&q=1")
    assert "k-secret-value" not in str(trace_events)


def test_a_retry_event_redacts_with_the_sessions_own_fields(make_app, trace_events):
    secret = "sig-secret-value"
    flaky = make_app("flaky")
    calls = []

    @flaky.get("/x")
    def x():
        calls.append(1)
        return ("busy", 503) if len(calls) == 1 else "ok"

    gateway = make_app("gateway")
    retry = Retry(total=2, status_forcelist=[503], backoff_factor=0)
    session = traced.TracedSession(retries=retry, redact_fields=["sig"])
    with serve_app(flaky) as url:
        gateway.get("/")(lambda: session.get(f"{url}/x", params={"sig": secret}).text)
        assert gateway.test_client().get("/").text == "ok"

    assert len(events_of(trace_events, "retry")) == 1
    # The flaky service was not told that "sig" is secret; the gateway's session was.
    assert secret not in json.dumps([e for e in trace_events if e["service"] == "gateway"])
