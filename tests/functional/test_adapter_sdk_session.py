"""``TracingAdapter`` on a session you do not own (an SDK's), and calls from async views.

Mounted with no options, the adapter follows the settings of the Flask app whose
request is being handled, exactly as ``traced.get`` does there.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
from flask import jsonify

import traced_http as traced
from traced_http.testing import events_of

INTERNAL = "http://orders.internal/x"
FOREIGN = "http://partner.example/x"
STYLE = ["traceparent", "traceid", "X-Request-ID"]
TRACE_HEADERS = ("traceparent", "tracestate", "traceid", "x-request-id")


@pytest.fixture
def rsps(traced_responses: Any) -> Any:
    """The kit's ``traced_responses``, with this module's routes."""
    traced_responses.add("GET", INTERNAL, json={"ok": True})
    traced_responses.add("GET", FOREIGN, json={"ok": True})
    return traced_responses


def sdk_session(**options: Any) -> requests.Session:
    """What a third-party client library holds; we only mount the adapter on it."""
    session = requests.Session()
    session.headers["User-Agent"] = "vendor-sdk/1.0"
    adapter = traced.TracingAdapter(**options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _names(headers: Any) -> set[str]:
    return {name for name in TRACE_HEADERS if name in headers}


def test_sdk_session_inherits_the_flask_apps_settings_like_traced_get(rsps, trace_events, make_app):
    app = make_app("gateway", propagate_to=["*.internal"], propagate_headers=STYLE)
    sdk = sdk_session()

    @app.route("/")
    def view() -> str:
        sdk.get(INTERNAL)
        sdk.get(FOREIGN)
        traced.get(INTERNAL)
        traced.get(FOREIGN)
        return "ok"

    app.test_client().get("/")

    (start,) = events_of(trace_events, "start")
    calls = events_of(trace_events, "call")
    sent = [call.request.headers for call in rsps.calls]
    assert [_names(h) for h in sent] == [
        {"traceparent", "traceid", "x-request-id"},
        set(),
        {"traceparent", "traceid", "x-request-id"},
        set(),
    ]
    assert sent[0]["User-Agent"] == "vendor-sdk/1.0"
    assert sent[0]["x-request-id"] == start["traceid"]
    assert sent[0]["traceparent"] == f"00-{start['traceid']}-{calls[0]['span_id']}-01"
    assert [e["service"] for e in calls] == ["gateway"] * 4
    assert {e["parent_id"] for e in calls} == {start["span_id"]}
    assert {e["traceid"] for e in calls} == {start["traceid"]}
    assert [e["trace_index"] for e in trace_events] == list(range(1, 7))


def test_one_sdk_session_serves_two_apps_each_with_its_own_settings(rsps, make_app):
    sdk = sdk_session()
    open_app = make_app("open")
    closed_app = make_app("closed", propagate_to=["nothing.example"])
    for app in (open_app, closed_app):
        app.add_url_rule("/", "call", lambda: sdk.get(INTERNAL).text)

    open_app.test_client().get("/")
    closed_app.test_client().get("/")
    open_app.test_client().get("/")

    assert [_names(call.request.headers) for call in rsps.calls] == [
        {"traceparent", "traceid"},
        set(),
        {"traceparent", "traceid"},
    ]


def test_adapter_options_win_over_the_apps(rsps, trace_events, make_app):
    app = make_app("gateway", propagate_to=["*.internal"])
    sdk = sdk_session(propagate_headers=["X-Request-ID"], body_limit=4)

    @app.route("/")
    def view() -> str:
        sdk.get(INTERNAL)
        sdk.get(FOREIGN)
        return "ok"

    app.test_client().get("/")

    assert [_names(call.request.headers) for call in rsps.calls] == [{"x-request-id"}, set()]
    call = events_of(trace_events, "call")[0]
    assert call["msg_dict"]["response_data"]["_body"] == "truncated"


def test_service_option_names_the_service_outside_any_request(rsps, trace_events):
    traced.TracedSession(service="nightly-worker").get(INTERNAL)
    sdk_session(service="sdk-worker").get(INTERNAL)

    assert [e["service"] for e in events_of(trace_events, "call")] == [
        "nightly-worker",
        "sdk-worker",
    ]


# --- async views ----------------------------------------------------------------------


@pytest.fixture
def async_app(make_app: Any) -> Any:
    pytest.importorskip("asgiref", reason="Flask async views need asgiref (flask[async])")
    app = make_app("gateway")
    sdk = sdk_session()

    @app.route("/direct")
    async def direct() -> Any:
        traced.get(INTERNAL)
        sdk.get(INTERNAL)
        return jsonify(traceid=traced.current_traceid())

    @app.route("/to-thread")
    async def to_thread() -> Any:
        await asyncio.gather(
            asyncio.to_thread(traced.get, INTERNAL), asyncio.to_thread(sdk.get, INTERNAL)
        )
        return jsonify(traceid=traced.current_traceid())

    return app


@pytest.mark.parametrize("path", ["/direct", "/to-thread"])
def test_calls_from_an_async_view_belong_to_its_request(rsps, trace_events, async_app, path):
    answer = async_app.test_client().get(path).json

    (start,) = events_of(trace_events, "start")
    calls = events_of(trace_events, "call")
    assert answer["traceid"] == start["traceid"]
    assert len(calls) == 2
    assert {e["traceid"] for e in calls} == {start["traceid"]}
    assert {e["parent_id"] for e in calls} == {start["span_id"]}
    sent = sorted(call.request.headers["traceparent"] for call in rsps.calls)
    assert sent == sorted(f"00-{start['traceid']}-{e['span_id']}-01" for e in calls)
    assert traced.current_trace() is None
