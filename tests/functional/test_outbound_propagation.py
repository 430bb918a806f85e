"""Outbound trace headers: what every kind of client sends, for every HTTP method.

The three ways to call out are ``traced.get`` & co. (the shared default session), a
``TracedSession``, and a plain ``requests.Session`` (an SDK's) with ``TracingAdapter``
mounted. ``responses`` answers every call here and records the headers that were sent.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests
from clients import adapter_session
from flask import g, jsonify, request

import traced_http as traced
from traced_http.propagation import w3c_trace_id
from traced_http.testing import events_of, serve_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"
URL = "http://api.example/items"
METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "request"]


CLIENTS: dict[str, Callable[..., Any]] = {
    "traced.get": lambda **options: traced,
    "TracedSession": lambda **options: traced.TracedSession(**options),
    "TracingAdapter": adapter_session,
}


def call(client: Any, method: str, url: str = URL, **kwargs: Any) -> requests.Response:
    if method == "request":
        return client.request("GET", url, **kwargs)  # type: ignore[no-any-return]
    return getattr(client, method)(url, **kwargs)  # type: ignore[no-any-return]


@pytest.fixture
def rsps(traced_responses: Any) -> Any:
    """The kit's ``traced_responses``, with this module's routes."""
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        traced_responses.add(method, URL, body="ok")
    traced_responses.add("HEAD", URL)
    return traced_responses


def sent_headers(rsps: Any, index: int = -1) -> requests.structures.CaseInsensitiveDict[str]:
    return rsps.calls[index].request.headers  # type: ignore[no-any-return]


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize("method", METHODS)
def test_every_method_of_every_client_sends_traceid_and_traceparent_of_the_call_span(
    rsps, trace_events, client_name, method
):
    client = CLIENTS[client_name]()

    with traced.trace("job", traceid=TRACE_ID) as ctx:
        call(client, method)

    headers = sent_headers(rsps)
    (event,) = events_of(trace_events, "call")
    assert headers["traceid"] == TRACE_ID
    assert headers["traceparent"] == f"00-{TRACE_ID}-{event['span_id']}-01"
    assert event["span_id"] != ctx.span_id
    assert event["parent_id"] == ctx.span_id
    assert event["traceid"] == TRACE_ID
    assert event["msg_dict"]["method"] == ("GET" if method == "request" else method.upper())


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_each_call_is_a_new_child_span(rsps, trace_events, client_name):
    client = CLIENTS[client_name]()

    with traced.trace("job", traceid=TRACE_ID):
        call(client, "get")
        call(client, "get")

    spans = [e["span_id"] for e in events_of(trace_events, "call")]
    sent = [h.request.headers["traceparent"].split("-")[2] for h in rsps.calls]
    assert sent == spans
    assert len(set(spans)) == 2


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_a_plain_id_travels_as_traceid_with_a_derived_traceparent(rsps, trace_events, client_name):
    with traced.trace("job", traceid="req-391"):
        call(CLIENTS[client_name](), "get")

    headers = sent_headers(rsps)
    assert headers["traceid"] == "req-391"
    (call_event,) = events_of(trace_events, "call")
    assert headers["traceparent"] == f"00-{w3c_trace_id('req-391')}-{call_event['span_id']}-01"
    assert "tracestate" not in headers


def _forwarding_app(make_app: Callable[..., Any], client: Any, **options: Any) -> Any:
    app = make_app("gateway", **options)

    @app.route("/")
    def forward() -> Any:
        call(client, "get")
        return jsonify(ok=True)

    return app


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_tracestate_is_forwarded_unchanged_with_a_valid_traceparent(
    rsps, trace_events, make_app, client_name
):
    app = _forwarding_app(make_app, CLIENTS[client_name]())
    state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"

    app.test_client().get(
        "/",
        headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01", "tracestate": state},
    )

    headers = sent_headers(rsps)
    (event,) = events_of(trace_events, "call")
    assert headers["tracestate"] == state
    assert headers["traceparent"] == f"00-{TRACE_ID}-{event['span_id']}-01"
    (start,) = events_of(trace_events, "start")
    assert start["parent_id"] == PARENT_SPAN
    assert event["parent_id"] == start["span_id"]


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize("explicit", ["current", "other"])
def test_an_explicit_tracestate_other_than_the_traces_own_takes_propagation_over(
    rsps, trace_events, make_app, client_name, explicit
):
    client = CLIENTS[client_name]()
    app = make_app("gateway")

    @app.route("/")
    def forward() -> str:
        state = traced.current_trace().tracestate if explicit == "current" else "mine=1"
        call(client, "get", headers={"tracestate": state})
        return "ok"

    app.test_client().get(
        "/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01", "tracestate": "rojo=1"}
    )

    headers = sent_headers(rsps)
    (event,) = events_of(trace_events, "call")
    if explicit == "current":
        assert headers["tracestate"] == "rojo=1"
        assert headers["traceparent"] == f"00-{TRACE_ID}-{event['span_id']}-01"
        assert headers["traceid"] == TRACE_ID
    else:
        assert {name for name in TRACE_HEADERS if name in headers} == {"tracestate"}
        assert headers["tracestate"] == "mine=1"


STYLES = [
    (["traceparent", "traceid", "X-Request-ID"], {"traceparent", "traceid", "x-request-id"}),
    (["X-Request-ID"], {"x-request-id"}),
    (["traceparent"], {"traceparent"}),
    (["X-Correlation-ID", "traceid"], {"x-correlation-id", "traceid"}),
]
TRACE_HEADERS = {"traceparent", "tracestate", "traceid", "x-request-id", "x-correlation-id"}


@pytest.mark.parametrize(("names", "expected"), STYLES)
def test_configured_header_style_on_the_flask_app(rsps, make_app, names, expected):
    app = _forwarding_app(make_app, traced, propagate_headers=names)

    app.test_client().get("/", headers={"traceid": TRACE_ID})

    headers = sent_headers(rsps)
    assert {name for name in TRACE_HEADERS if name in headers} == expected
    for name in expected - {"traceparent"}:
        assert headers[name] == TRACE_ID


@pytest.mark.parametrize("client_name", ["TracedSession", "TracingAdapter"])
@pytest.mark.parametrize(("names", "expected"), STYLES)
def test_configured_header_style_on_the_client(rsps, client_name, names, expected):
    client = CLIENTS[client_name](propagate_headers=names)

    with traced.trace("job", traceid=TRACE_ID):
        call(client, "get")

    headers = sent_headers(rsps)
    assert {name for name in TRACE_HEADERS if name in headers} == expected


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize("name", ["traceid", "TraceID"])
def test_explicit_current_id_header_still_gets_traceparent(rsps, trace_events, client_name, name):
    with traced.trace("job", traceid=TRACE_ID):
        call(CLIENTS[client_name](), "get", headers={name: TRACE_ID})

    headers = sent_headers(rsps)
    (event,) = events_of(trace_events, "call")
    assert headers["traceid"] == TRACE_ID
    assert headers["traceparent"] == f"00-{TRACE_ID}-{event['span_id']}-01"


def test_explicit_g_traceid_header_inside_a_flask_view(rsps, make_app, trace_events):
    from flask import g

    app = make_app("gateway")

    @app.route("/")
    def view() -> str:
        traced.get(URL, headers={"traceid": g.traceid})
        return "ok"

    app.test_client().get("/")

    headers = sent_headers(rsps)
    (start,) = events_of(trace_events, "start")
    (event,) = events_of(trace_events, "call")
    assert headers["traceid"] == start["traceid"]
    assert headers["traceparent"] == f"00-{start['traceid']}-{event['span_id']}-01"


OTHER_ID = "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.parametrize("client_name", list(CLIENTS))
@pytest.mark.parametrize(
    "explicit",
    [
        {"traceid": "someone-else"},
        {"traceid": OTHER_ID},
        {"traceparent": f"00-{OTHER_ID}-b7ad6b7169203331-01"},
        {"traceparent": "garbage"},
        {"tracestate": "mine=1"},
    ],
    ids=["plain-id", "hex-id", "traceparent", "invalid-traceparent", "tracestate"],
)
def test_explicit_other_id_wins_and_nothing_is_injected(rsps, client_name, explicit):
    with traced.trace("job", traceid=TRACE_ID):
        call(CLIENTS[client_name](), "get", headers=dict(explicit))

    headers = sent_headers(rsps)
    present = {name for name in TRACE_HEADERS if name in headers}
    assert present == set(explicit)
    for name, value in explicit.items():
        assert headers[name] == value


def test_explicit_override_holds_for_that_call_only(rsps):
    with traced.trace("job", traceid=TRACE_ID):
        traced.get(URL, headers={"traceid": "someone-else"})
        traced.get(URL)

    assert sent_headers(rsps, 0)["traceid"] == "someone-else"
    assert sent_headers(rsps, 1)["traceid"] == TRACE_ID
    assert sent_headers(rsps, 1)["traceparent"].startswith(f"00-{TRACE_ID}-")


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
