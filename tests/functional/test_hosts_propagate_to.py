"""``propagate_to``: only listed hosts receive trace headers, on every hop of a call.

Calls to other hosts are still traced (they get their ``call`` event) but carry no
trace header at all, not even one the caller set by hand. ``responses`` answers.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
import requests
from clients import adapter_session

import traced_http as traced
from traced_http.testing import assert_single_trace, events_of, serve_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ALLOWED = ["api.internal", "*.corp.example", "billing:8080"]
TRACE_HEADERS = ("traceid", "traceparent", "tracestate")


def _run(kind: str, make_app: Callable[..., Any], work: Callable[[Any], None]) -> None:
    """Run ``work(client)`` in a trace whose calls follow ``propagate_to=ALLOWED``.

    ``app-*``: the setting comes from the Flask app handling the request (inherited by
    ``traced.get`` and by an adapter that sets nothing); otherwise from the client.
    """
    if kind.startswith("app-"):
        app = make_app("gateway", propagate_to=ALLOWED)
        client = traced if kind == "app-traced.get" else adapter_session()

        @app.route("/")
        def view() -> str:
            work(client)
            return "ok"

        assert app.test_client().get("/", headers={"traceid": TRACE_ID}).status_code == 200
        return
    if kind == "TracedSession":
        client = traced.TracedSession(propagate_to=ALLOWED)
    else:
        client = adapter_session(propagate_to=ALLOWED)
    with traced.trace("job", traceid=TRACE_ID):
        work(client)


KINDS = ["app-traced.get", "app-TracingAdapter", "TracedSession", "TracingAdapter"]


def _sent(rsps: Any) -> dict[str, dict[str, str]]:
    """url -> the trace headers that call carried."""
    return {
        call.request.url: {
            name: call.request.headers[name]
            for name in TRACE_HEADERS
            if name in call.request.headers
        }
        for call in rsps.calls
    }


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://api.internal/x", True),
        ("http://orders.corp.example/x", True),
        ("http://billing:8080/x", True),
        ("http://billing:9090/x", False),
        ("http://corp.example/x", False),
        ("http://partner.example/x", False),
    ],
)
def test_only_listed_hosts_get_trace_headers_all_calls_are_logged(
    traced_responses, trace_events, make_app, kind, url, allowed
):
    traced_responses.add("GET", url, body="ok")
    explicit = {"traceid": TRACE_ID}  # the current id: not an override

    _run(kind, make_app, lambda client: client.get(url, headers=explicit))

    sent = _sent(traced_responses)[url]
    (event,) = events_of(trace_events, "call")
    assert event["msg_dict"]["url"] == url
    assert event["msg_dict"]["status_code"] == 200
    assert event["traceid"] == TRACE_ID
    if allowed:
        assert sent["traceid"] == TRACE_ID
        assert sent["traceparent"] == f"00-{TRACE_ID}-{event['span_id']}-01"
        assert "propagated" not in event["msg_dict"]
    else:
        assert sent == {}
        assert event["msg_dict"]["propagated"] is False


@pytest.mark.parametrize("kind", KINDS)
def test_explicit_trace_headers_are_stripped_for_foreign_hosts(traced_responses, make_app, kind):
    url = "http://partner.example/x"
    traced_responses.add("GET", url, body="ok")
    explicit = {
        "traceid": "someone-else",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "tracestate": "rojo=1",
    }

    _run(kind, make_app, lambda client: client.get(url, headers=explicit))

    assert _sent(traced_responses)[url] == {}


@pytest.mark.parametrize("kind", KINDS)
def test_redirect_from_allowed_to_foreign_host_drops_trace_headers(
    traced_responses, trace_events, make_app, kind
):
    traced_responses.add(
        "GET",
        "http://api.internal/go",
        status=302,
        headers={"Location": "http://partner.example/land"},
    )
    traced_responses.add("GET", "http://partner.example/land", body="landed")
    responses_seen: list[requests.Response] = []

    def work(client: Any) -> None:
        responses_seen.append(client.get("http://api.internal/go", headers={"traceid": TRACE_ID}))

    _run(kind, make_app, work)

    (response,) = responses_seen
    assert response.text == "landed"
    sent = _sent(traced_responses)
    calls = events_of(trace_events, "call")
    assert [e["msg_dict"]["status_code"] for e in calls] == [302, 200]
    assert [e["msg_dict"]["url"] for e in calls] == [
        "http://api.internal/go",
        "http://partner.example/land",
    ]
    assert sent["http://api.internal/go"]["traceparent"].split("-")[2] == calls[0]["span_id"]
    assert sent["http://partner.example/land"] == {}


@pytest.mark.parametrize("kind", KINDS)
def test_redirect_from_foreign_to_allowed_host_gets_headers_on_the_allowed_hop(
    traced_responses, trace_events, make_app, kind
):
    traced_responses.add(
        "GET",
        "http://partner.example/go",
        status=302,
        headers={"Location": "http://api.internal/land"},
    )
    traced_responses.add("GET", "http://api.internal/land", body="landed")

    _run(kind, make_app, lambda client: client.get("http://partner.example/go"))

    sent = _sent(traced_responses)
    calls = events_of(trace_events, "call")
    assert sent["http://partner.example/go"] == {}
    assert sent["http://api.internal/land"]["traceid"] == TRACE_ID
    assert sent["http://api.internal/land"]["traceparent"] == (
        f"00-{TRACE_ID}-{calls[1]['span_id']}-01"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_each_redirect_hop_is_its_own_child_span(traced_responses, trace_events, make_app, kind):
    traced_responses.add(
        "GET", "http://api.internal/a", status=301, headers={"Location": "http://api.internal/b"}
    )
    traced_responses.add(
        "GET",
        "http://api.internal/b",
        status=307,
        headers={"Location": "http://orders.corp.example/c"},
    )
    traced_responses.add("GET", "http://orders.corp.example/c", json={"done": True})

    _run(kind, make_app, lambda client: client.get("http://api.internal/a"))

    calls = events_of(trace_events, "call")
    (start,) = events_of(trace_events, "start")
    assert [e["msg_dict"]["status_code"] for e in calls] == [301, 307, 200]
    assert calls[2]["msg_dict"]["response_data"] == {"done": True}
    spans = [e["span_id"] for e in calls]
    assert len(set(spans)) == 3
    assert {e["parent_id"] for e in calls} == {start["span_id"]}
    sent_spans = [c.request.headers["traceparent"].split("-")[2] for c in traced_responses.calls]
    assert sent_spans == spans
    indexes = [e["trace_index"] for e in calls]
    assert indexes == sorted(indexes)
    assert len(set(indexes)) == 3


def test_assert_single_trace_names_the_calls_whose_headers_were_withheld(make_app, trace_events):
    downstream = make_app("billing")
    downstream.add_url_rule("/charge", "charge", lambda: "ok")
    gateway = make_app("gateway", propagate_to=["billing.internal"])
    with serve_app(downstream) as billing_url:
        gateway.add_url_rule("/", "pay", lambda: traced.get(billing_url + "/charge").text)
        with serve_app(gateway) as gateway_url:
            assert requests.get(gateway_url, timeout=10).text == "ok"

    with pytest.raises(AssertionError) as failure:
        assert_single_trace(trace_events)

    message = str(failure.value)
    assert "expected one trace id" in message
    assert f"GET {billing_url}/charge from gateway" in message
    assert "outside propagate_to" in message
