"""Which trace id a request gets from its headers; a bad header is replaced, never an error."""

from __future__ import annotations

import http.client
import json
import logging
import re
from urllib.parse import urlsplit

import pytest
from flask import Flask

import traced_http as traced
from traced_http.testing import events_of, serve_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
HEX32 = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("svc")

    @app.route("/")
    def index():
        ctx = traced.current_trace()
        return {
            "traceid": ctx.trace_id,
            "parent_id": ctx.parent_id,
            "flags": ctx.flags,
            "tracestate": ctx.tracestate,
        }

    return app


def get(app: Flask, headers):
    """GET / with raw headers; values with CR/LF go straight into the WSGI environ,
    as a server would pass them (the test client refuses to send them)."""
    if isinstance(headers, dict) and any("\r" in v or "\n" in v for v in headers.values()):
        environ = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
        return app.test_client().get("/", environ_base=environ)
    return app.test_client().get("/", headers=headers)


@pytest.mark.parametrize(
    ("headers", "trace_id", "source"),
    [
        ({"traceparent": TRACEPARENT}, TRACE_ID, "traceparent"),
        ({"traceid": "plain-id"}, "plain-id", "traceid"),
        ({"X-Request-ID": "req-id"}, "req-id", "x-request-id"),
        ({"X-Correlation-ID": "corr-id"}, "corr-id", "x-correlation-id"),
    ],
)
def test_the_id_is_used_echoed_and_its_header_named_in_the_start_event(
    app, trace_events, headers, trace_id, source
):
    """Which header wins when several arrive is a parsing rule (tests/unit/test_propagation.py)."""
    response = get(app, headers)
    assert response.json["traceid"] == trace_id
    assert response.headers["traceid"] == trace_id
    start = events_of(trace_events, "start")[0]
    assert start["traceid"] == trace_id
    assert start["msg_dict"]["id_source"] == source
    assert "rejected_headers" not in start["msg_dict"]


def test_no_header_gives_a_generated_32_hex_id(app, trace_events):
    response = get(app, {})
    assert HEX32.fullmatch(response.headers["traceid"])
    start = events_of(trace_events, "start")[0]
    assert start["msg_dict"]["id_source"] == "generated"
    assert start["parent_id"] is None


def test_each_request_without_header_gets_its_own_id(app):
    ids = {get(app, {}).headers["traceid"] for _ in range(20)}
    assert len(ids) == 20


def test_valid_traceparent_makes_the_caller_span_the_parent(app, trace_events):
    response = get(app, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-03", "tracestate": "v=1"})
    assert response.json == {
        "traceid": TRACE_ID,
        "parent_id": PARENT_ID,
        "flags": "03",
        "tracestate": "v=1",
    }
    start = events_of(trace_events, "start")[0]
    assert start["parent_id"] == PARENT_ID
    assert start["span_id"] != PARENT_ID


def test_tracestate_sent_as_several_fields_is_combined_in_order(app):
    """On the wire: a real server joins repeated fields; empty ones are allowed."""
    lines = [("traceparent", TRACEPARENT), ("tracestate", "foo=1,bar=2"), ("tracestate", "")]
    lines += [("tracestate", "rojo=1 , congo=2"), ("tracestate", "foo=3")]
    with serve_app(app) as base:
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        try:
            connection.putrequest("GET", "/")
            for name, value in lines:
                connection.putheader(name, value)
            connection.endheaders()
            body = json.loads(connection.getresponse().read())
        finally:
            connection.close()
    assert body["traceid"] == TRACE_ID
    assert body["tracestate"] == "foo=1,bar=2,rojo=1,congo=2"


# Every bad value carries the marker EVIL, so that a test can look for it in any log line.
BAD_PLAIN_VALUES = [
    pytest.param("EVIL" + "x" * 10_240, id="10-KB"),
    pytest.param("EVIL\x01\x7f", id="control-chars"),
    pytest.param("EVIL\r\nX-Injected: 1", id="crlf"),
    pytest.param("EVIL,other", id="comma"),
    pytest.param("EVILé", id="non-ascii"),
    pytest.param("EVIL" + "x" * 125, id="129-chars"),
    pytest.param("EVIL with spaces", id="inner-spaces"),
]
BAD_TRACEPARENTS = [
    pytest.param(f"EVIL-{TRACE_ID}-{PARENT_ID}-01", id="not-hex-version"),
    pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-01-EVIL", id="version-00-too-long"),
    pytest.param(f"ff-{TRACE_ID}-{PARENT_ID}-01 EVIL", id="version-ff"),
    pytest.param(f"01-{TRACE_ID}-{PARENT_ID}-01EVIL", id="higher-version-no-dash"),
    pytest.param(f"00-{TRACE_ID.upper()}-{PARENT_ID}-01\tEVIL", id="uppercase"),
    pytest.param(f"00-{'0' * 32}-{PARENT_ID}-01 EVIL", id="zero-trace-id"),
    pytest.param(f"00-{TRACE_ID}-{'0' * 16}-01 EVIL", id="zero-parent-id"),
    pytest.param(f"{TRACEPARENT},EVIL", id="two-joined"),
    pytest.param(f"{TRACEPARENT}\r\nEVIL", id="crlf"),
]


def assert_never_logged_or_echoed(response, events, caplog, marker="EVIL"):
    assert response.status_code == 200
    assert all(marker not in value for value in response.headers.values())
    assert marker not in caplog.text
    assert events, "the request was traced"
    assert all(marker not in str(event) for event in events)


@pytest.mark.parametrize("name", ["traceid", "X-Request-ID", "X-Correlation-ID"])
@pytest.mark.parametrize("value", BAD_PLAIN_VALUES)
def test_bad_plain_id_gives_a_new_id_never_logged_or_echoed(app, trace_events, caplog, name, value):
    caplog.set_level(logging.INFO)
    response = get(app, {name: value})
    assert_never_logged_or_echoed(response, trace_events, caplog)
    assert HEX32.fullmatch(response.headers["traceid"])
    start = events_of(trace_events, "start")[0]
    assert start["msg_dict"]["id_source"] == "generated"
    assert start["msg_dict"]["rejected_headers"] == [name.lower()]


@pytest.mark.parametrize("value", BAD_TRACEPARENTS)
def test_bad_traceparent_falls_to_the_next_header(app, trace_events, caplog, value):
    caplog.set_level(logging.INFO)
    response = get(app, {"traceparent": value, "X-Request-ID": "req-1", "tracestate": "a=1"})
    assert_never_logged_or_echoed(response, trace_events, caplog)
    assert response.json == {
        "traceid": "req-1",
        "parent_id": None,
        "flags": "01",
        "tracestate": None,
    }
    start = events_of(trace_events, "start")[0]
    assert start["msg_dict"]["id_source"] == "x-request-id"
    assert start["msg_dict"]["rejected_headers"] == ["traceparent"]


def test_repeated_header_is_invalid(app, trace_events, caplog):
    caplog.set_level(logging.INFO)
    response = get(app, [("traceid", "EVIL1"), ("traceid", "EVIL2"), ("X-Request-ID", "req-1")])
    assert_never_logged_or_echoed(response, trace_events, caplog)
    assert response.headers["traceid"] == "req-1"
    assert events_of(trace_events, "start")[0]["msg_dict"]["rejected_headers"] == ["traceid"]


def test_empty_header_is_invalid(app, trace_events):
    response = get(app, {"traceid": "", "X-Correlation-ID": "corr-1"})
    assert response.headers["traceid"] == "corr-1"
    assert events_of(trace_events, "start")[0]["msg_dict"]["rejected_headers"] == ["traceid"]


def test_several_bad_headers_are_all_named(app, trace_events):
    response = get(app, {"traceparent": "EVIL", "traceid": "EVIL,", "X-Request-ID": "EVIL é"})
    assert HEX32.fullmatch(response.headers["traceid"])
    assert events_of(trace_events, "start")[0]["msg_dict"]["rejected_headers"] == [
        "traceparent",
        "traceid",
        "x-request-id",
    ]


def test_configured_id_headers_set_the_list_and_order(make_app, trace_events):
    app = make_app("svc", id_headers=["X-Amzn-Trace-Id", "X-Request-ID"])

    @app.route("/")
    def index():
        return traced.current_traceid()

    response = app.test_client().get(
        "/",
        headers={"traceparent": TRACEPARENT, "X-Request-ID": "req-1", "X-Amzn-Trace-Id": "amzn"},
    )
    assert response.text == "amzn"
    response = app.test_client().get("/", headers={"traceparent": TRACEPARENT, "traceid": "t"})
    assert HEX32.fullmatch(response.text)
    assert response.text != TRACE_ID
    assert [e["msg_dict"]["id_source"] for e in events_of(trace_events, "start")] == [
        "x-amzn-trace-id",
        "generated",
    ]


@pytest.mark.parametrize(
    "header_lines",
    [
        pytest.param([("traceid", "EVIL-1"), ("traceid", "EVIL-2")], id="repeated-header"),
        pytest.param([("traceid", "EVIL\xe9")], id="non-ascii-bytes"),
        pytest.param([("traceid", "EVIL" + "x" * 10_240)], id="10-KB"),
        pytest.param([("traceparent", f"{TRACEPARENT}"), ("traceparent", "EVIL")], id="two-tp"),
    ],
)
def test_real_server_replaces_bad_headers_as_sent_on_the_wire(
    app, trace_events, caplog, header_lines
):
    caplog.set_level(logging.INFO)
    with serve_app(app) as base:
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=10)
        try:
            connection.putrequest("GET", "/")
            for name, value in header_lines:
                connection.putheader(name, value.encode("latin-1"))
            connection.endheaders()
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
    assert response.status == 200
    echoed = response.getheader("traceid")
    assert HEX32.fullmatch(echoed)
    assert echoed != TRACE_ID
    assert json.loads(body)["traceid"] == echoed
    assert "EVIL" not in str(response.getheaders())
    assert "EVIL" not in caplog.text
    start = events_of(trace_events, "start")[0]
    assert start["msg_dict"]["rejected_headers"] == [header_lines[0][0]]
