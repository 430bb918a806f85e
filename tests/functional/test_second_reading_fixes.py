"""Behaviours a code review found wrong, each proven by a test that failed before."""

from __future__ import annotations

import json

from flask import Response, abort, g, request
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.hosts import HostMatcher
from traced_http.redaction import Redactor
from traced_http.testing import events_of, serve_app

SECRET = "PLANTED-REVIEW-SECRET"


def _logged(events) -> str:
    return "\n".join(json.dumps(e) for e in events)


def test_a_json_key_written_with_escapes_is_still_redacted(make_app, trace_events):
    app = make_app()
    app.post("/login")(lambda: {"user": request.get_json()["user"]})
    body = '{"user": "bob", "pass\\u0077ord": "' + SECRET + '"}'

    app.test_client().post("/login", data=body, content_type="application/json")

    assert trace_events[1]["msg_dict"]["request_data"] == {"user": "bob", "password": "[REDACTED]"}
    assert SECRET not in _logged(trace_events)


def test_previews_hide_quoted_and_bare_keys():
    redactor = Redactor()
    for text in (
        "{'user': 'bob', 'password': '" + SECRET + "'}",
        "{user: 'bob', password: '" + SECRET + "',}",
        "bad payload {'api_key': '" + SECRET + "'}",
    ):
        assert SECRET not in redactor.text(text)


def test_a_retry_event_redacts_with_the_sessions_own_fields(make_app, trace_events):
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
        gateway.get("/")(lambda: session.get(f"{url}/x", params={"sig": SECRET}).text)
        assert gateway.test_client().get("/").text == "ok"

    assert len(events_of(trace_events, "retry")) == 1
    # The flaky service was not told that "sig" is secret; the gateway's session was.
    assert SECRET not in _logged(e for e in trace_events if e["service"] == "gateway")


def test_a_request_aborted_by_a_url_value_preprocessor_is_traced(make_app, trace_events):
    app = make_app()

    @app.url_value_preprocessor
    def tenant(endpoint, values):
        if values and values.get("tenant") != "acme":
            abort(404)

    @app.errorhandler(404)
    def not_found(error):
        return {"traceid": g.get("traceid")}, 404

    app.get("/<tenant>/orders")(lambda tenant: "orders")

    response = app.test_client().get("/evil/orders")

    assert response.status_code == 404
    assert response.json["traceid"] == response.headers["traceid"]
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    assert trace_events[1]["msg_dict"]["status_code"] == 404


def test_a_bytes_trace_header_from_the_caller_is_understood(make_app, trace_events):
    seen = make_app("seen")
    seen.get("/")(lambda: request.headers.get("traceparent", ""))
    gateway = make_app("gateway")

    @gateway.get("/")
    def call():
        mine = f"00-{g.traceid}-{'a' * 16}-01".encode()  # requests accepts bytes values
        return traced.get(f"{url}/", headers={"traceparent": mine}).text

    with serve_app(seen) as url:
        response = gateway.test_client().get("/")

    assert response.status_code == 200
    assert response.text.split("-")[1] == response.headers["traceid"]


def test_a_streamed_204_is_not_a_disconnect(make_app, trace_events):
    app = make_app()

    @app.get("/")
    def empty():
        return Response((chunk for chunk in ()), status=204)

    with app.test_client().get("/") as response:
        assert response.status_code == 204

    assert "error" not in events_of(trace_events, "end")[0]["msg_dict"]


def test_a_streamed_length_counts_bytes_on_the_wire(make_app, trace_events):
    app = make_app()

    @app.get("/")
    def text():
        return Response((chunk for chunk in ("héllo ", "wörld")), mimetype="text/plain")

    with app.test_client().get("/") as response:
        wire = response.get_data()

    assert events_of(trace_events, "end")[0]["msg_dict"]["response_data"]["length"] == len(wire)


def test_a_bracketed_ipv6_host_with_a_port_matches():
    matcher = HostMatcher(["[::1]:8080"])
    assert matcher.allows("http://[::1]:8080/x")
    assert not matcher.allows("http://[::1]:9090/x")
