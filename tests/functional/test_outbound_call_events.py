"""The ``call`` event of an outbound call: what it records, and how a failed call ends.

A failed call still gets its ``call`` event, with ``error`` instead of a status, and the
caller then gets the very exception ``requests`` raised: tracing never changes it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
import requests
from clients import adapter_session
from flask import Flask, Response, redirect, request
from loopback import closed_url

import traced_http as traced
from traced_http.redaction import REDACTED
from traced_http.testing import events_of, serve_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SECRET = "hunter2-SECRET"


CLIENTS: dict[str, Callable[..., Any]] = {
    "traced.get": lambda: traced,
    "TracedSession": traced.TracedSession,
    "TracingAdapter": adapter_session,
}


@pytest.mark.parametrize("status", [200, 201, 404, 500, 503])
def test_call_event_records_the_exchange_inside_a_flask_request(
    traced_responses, trace_events, make_app, status
):
    url = "http://alice:pw-secret-value@api.example/items?token=tok-secret-value&q=1"
    traced_responses.add(
        "POST",
        url,
        status=status,
        json={"id": 7, "access_token": "tok-secret-value"},
    )
    app = make_app("gateway")
    request_body = json.dumps({"password": "pw-secret-value", "n": 1}).encode()

    @app.route("/")
    def view() -> str:
        r = traced.post(
            url,
            data=request_body,
            headers={"Content-Type": "application/json"},
        )
        return str(r.status_code)

    before = time.time()
    assert app.test_client().get("/").text == str(status)
    after = time.time()

    start, call, _end = trace_events
    assert [e["event_des"] for e in trace_events] == ["start", "call", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3]
    assert call["traceid"] == start["traceid"]
    assert call["parent_id"] == start["span_id"]
    assert call["span_id"] != start["span_id"]
    sent = traced_responses.calls[0].request.headers["traceparent"]
    assert sent == f"00-{start['traceid']}-{call['span_id']}-01"
    msg = call["msg_dict"]
    assert msg["method"] == "POST"
    assert msg["url"] == "http://[REDACTED]@api.example/items?token=[REDACTED]&q=1"
    assert msg["status_code"] == status
    assert before <= msg["start_time"] <= after
    assert 0 <= msg["cost_time"] <= after - before
    assert msg["request_size"] == len(request_body)
    assert msg["response_size"] == len(traced_responses.calls[0].response.content)
    assert msg["response_data"] == {"id": 7, "access_token": "[REDACTED]"}
    assert "error" not in msg
    assert "secret-value" not in json.dumps(trace_events)


@pytest.mark.parametrize(
    ("options", "body", "content_type", "expected"),
    [
        ({}, b"plain text", "text/plain", "plain text"),
        (
            {},
            b"a=1&password=x",
            "application/x-www-form-urlencoded",
            {"a": "1", "password": "[REDACTED]"},
        ),
        (
            {"body_limit": 8},
            b"0123456789abcdef",
            "text/plain",
            {"_body": "truncated", "length": 16, "preview": "01234567"},
        ),
        (
            {},
            b"\x89PNG\r\n",
            "image/png",
            {"_body": "omitted", "content_type": "image/png", "length": 6},
        ),
        ({}, b"\xff\xfe\xfd", "text/plain", {"_body": "not_utf8", "length": 3}),
        (
            {},
            b"{not json",
            "application/json",
            {"_body": "invalid_json", "length": 9, "preview": "{not json"},
        ),
    ],
    ids=["text", "form", "truncated", "binary", "not-utf8", "invalid-json"],
)
def test_response_body_is_captured_under_the_body_rules(
    traced_responses, trace_events, options, body, content_type, expected
):
    traced_responses.add("GET", "http://api.example/b", body=body, content_type=content_type)

    response = traced.TracedSession(**options).get("http://api.example/b")

    assert response.content == body
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["response_data"] == expected
    assert call["msg_dict"]["response_size"] == len(body)


def test_capture_bodies_off_records_no_response_data(traced_responses, trace_events):
    traced_responses.add("GET", "http://api.example/b", json={"a": 1})

    traced.TracedSession(capture_bodies=False).get("http://api.example/b")

    (call,) = events_of(trace_events, "call")
    assert "response_data" not in call["msg_dict"]
    assert call["msg_dict"]["status_code"] == 200


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_streamed_response_is_not_consumed(traced_responses, trace_events, client_name):
    body = b'{"rows": [1, 2, 3]}'
    traced_responses.add(
        "GET",
        "http://api.example/stream",
        body=body,
        content_type="application/json",
        auto_calculate_content_length=True,
    )

    response = CLIENTS[client_name]().get("http://api.example/stream", stream=True)

    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["response_data"] == {"_body": "streamed"}
    assert call["msg_dict"]["status_code"] == 200
    assert call["msg_dict"]["response_size"] == len(body)
    assert response.raw.read() == body


# --- failures -------------------------------------------------------------------------

MOCKED_FAILURES = {
    "dns": lambda: requests.exceptions.ConnectionError(
        "Failed to resolve 'nowhere.invalid' ([Errno -2] Name or service not known)"
    ),
    "ssl": lambda: requests.exceptions.SSLError("certificate verify failed"),
    "connect-timeout": lambda: requests.exceptions.ConnectTimeout("connect timed out"),
    "read-timeout": lambda: requests.exceptions.ReadTimeout("read timed out"),
}


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize("failure", list(MOCKED_FAILURES))
def test_failure_is_logged_then_the_original_exception_is_raised(
    traced_responses, trace_events, client_name, failure
):
    exc = MOCKED_FAILURES[failure]()
    traced_responses.add("GET", "https://nowhere.invalid/x", body=exc)

    with pytest.raises(type(exc)) as raised, traced.trace("job", traceid=TRACE_ID) as ctx:
        CLIENTS[client_name]().get("https://nowhere.invalid/x")

    assert raised.value is exc
    (call,) = events_of(trace_events, "call")
    assert call["parent_id"] == ctx.span_id
    assert call["msg_dict"]["error"] == {"type": type(exc).__name__, "message": str(exc)}
    assert call["msg_dict"]["url"] == "https://nowhere.invalid/x"
    assert "status_code" not in call["msg_dict"]
    (end,) = events_of(trace_events, "end")
    assert end["msg_dict"]["error"]["type"] == type(exc).__name__


@pytest.fixture
def refused() -> str:
    """The base URL of a port nothing listens on: connecting is refused at once."""
    return closed_url()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections (in the kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/slow"


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_connection_refused_is_logged_and_raised(trace_events, refused, client_name):
    url = f"{refused}/x"

    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        CLIENTS[client_name]().get(url, timeout=5)

    assert type(raised.value) is requests.exceptions.ConnectionError
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["error"]["type"] == "ConnectionError"
    assert call["msg_dict"]["url"] == url
    assert call["parent_id"] is None


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_read_timeout_is_logged_and_raised(trace_events, silent_server, client_name):
    with pytest.raises(requests.exceptions.ReadTimeout) as raised:
        CLIENTS[client_name]().get(silent_server, timeout=(2, 0.2))

    assert type(raised.value) is requests.exceptions.ReadTimeout
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["error"]["type"] == "ReadTimeout"
    assert 0.2 <= call["msg_dict"]["cost_time"] < 2


@pytest.mark.parametrize("client_name", ["traced.get", "TracedSession"])
def test_redirect_loop_logs_every_hop_then_too_many_redirects(
    traced_responses, trace_events, client_name
):
    traced_responses.add("GET", "http://loop.example/a", status=302, headers={"Location": "/b"})
    traced_responses.add("GET", "http://loop.example/b", status=302, headers={"Location": "/a"})
    client = CLIENTS[client_name]()
    limit = 4
    if client is traced:
        client = traced.default_session()
        limit = client.max_redirects
    else:
        client.max_redirects = limit

    with pytest.raises(requests.TooManyRedirects), traced.trace("job", traceid=TRACE_ID) as ctx:
        client.get("http://loop.example/a")

    calls = events_of(trace_events, "call")
    hops, failure = calls[:-1], calls[-1]
    assert len(hops) == limit + 1
    assert {e["msg_dict"]["status_code"] for e in hops} == {302}
    assert failure["msg_dict"]["error"]["type"] == "TooManyRedirects"
    assert "status_code" not in failure["msg_dict"]
    assert {e["parent_id"] for e in calls} == {ctx.span_id}
    assert len({e["span_id"] for e in calls}) == len(calls)
    indexes = [e["trace_index"] for e in calls]
    assert indexes == list(range(2, len(calls) + 2))


@pytest.mark.xfail(
    strict=True,
    reason="a plain requests.Session raises TooManyRedirects in Session.resolve_redirects, "
    "which a mounted TracingAdapter never sees: only the hops are logged",
)
def test_redirect_loop_on_an_sdk_session_logs_the_failure(traced_responses, trace_events):
    traced_responses.add("GET", "http://loop.example/a", status=302, headers={"Location": "/a"})
    client = adapter_session()
    client.max_redirects = 2

    with pytest.raises(requests.TooManyRedirects), traced.trace("job"):
        client.get("http://loop.example/a")

    errors = [e for e in events_of(trace_events, "call") if "error" in e["msg_dict"]]
    assert [e["msg_dict"]["error"]["type"] for e in errors] == ["TooManyRedirects"]


def test_secret_query_fields_are_redacted_in_error_messages_too(trace_events, refused):
    # requests' message repeats the path and query: "... Max retries exceeded with url: /x?..."
    url = f"{refused}/x?access_token=tok-secret-value&q=1"

    with pytest.raises(requests.ConnectionError) as raised, traced.trace("job"):
        traced.get(url, timeout=5)

    assert "tok-secret-value" in str(raised.value)
    (call,) = events_of(trace_events, "call")
    assert "access_token=[REDACTED]&q=1" in call["msg_dict"]["error"]["message"]
    assert "tok-secret-value" not in json.dumps(trace_events)


@pytest.fixture(scope="module")
def downstream() -> Iterator[str]:
    """A real server with the hostile answers a client can meet."""
    app = Flask("downstream")

    @app.route("/deep")
    def deep() -> Response:
        return Response("[" * 1000 + "]" * 1000, content_type="application/json")

    @app.route("/echo")
    def echo() -> dict[str, Any]:  # as httpbin's /headers does
        return {"headers": dict(request.headers)}

    @app.route("/login")
    def login() -> Response:
        return redirect(f"/cb#access_token={SECRET}&state=s")

    @app.route("/cb")
    def callback() -> str:
        return "ok"

    with serve_app(app) as base:
        yield base


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_deeply_nested_json_response_is_returned_as_requests_returns_it(
    trace_events, downstream, client_name
):
    expected = requests.get(f"{downstream}/deep")

    response = CLIENTS[client_name]().get(f"{downstream}/deep")

    assert (response.status_code, response.content) == (200, expected.content)
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["response_data"]["_body"] == "too_deep"


def test_echoed_request_credentials_in_a_response_body_are_redacted(trace_events, downstream):
    credentials = {
        "Authorization": f"Bearer {SECRET}",
        "Proxy-Authorization": f"Basic {SECRET}",
        "Cookie": f"sid={SECRET}",
        "X-Goog-Api-Key": SECRET,
    }

    response = traced.get(f"{downstream}/echo", headers=credentials)

    assert response.json()["headers"]["Authorization"] == f"Bearer {SECRET}"
    (call,) = events_of(trace_events, "call")
    logged = call["msg_dict"]["response_data"]["headers"]
    assert {name: logged[name] for name in credentials} == dict.fromkeys(credentials, REDACTED)
    assert SECRET not in json.dumps(trace_events)


def test_a_token_in_a_redirect_fragment_is_redacted_in_every_hop(trace_events, downstream):
    response = traced.get(f"{downstream}/login")

    assert response.text == "ok"
    urls = [call["msg_dict"]["url"] for call in events_of(trace_events, "call")]
    assert urls == [f"{downstream}/login", f"{downstream}/cb#access_token={REDACTED}&state=s"]
    assert SECRET not in json.dumps(trace_events)


@pytest.fixture
def odd_length_server() -> Iterator[str]:
    """Answers every request with ``Content-Length: ²`` (a digit to ``isdigit``, not ``int``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "\u00b2")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_a_non_ascii_content_length_on_a_stream_is_not_an_error(
    trace_events, odd_length_server, client_name
):
    expected = requests.get(odd_length_server, stream=True)
    expected.close()

    response = CLIENTS[client_name]().get(odd_length_server, stream=True)
    response.close()

    assert response.status_code == expected.status_code == 200
    (call,) = events_of(trace_events, "call")
    assert call["msg_dict"]["response_size"] is None
