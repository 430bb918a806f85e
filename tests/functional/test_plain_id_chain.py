"""A chain that starts from a plain id (``X-Request-ID: req-391``), on real servers.

Three traced services and, behind them, a service that only reads W3C Trace Context
(as an OpenTelemetry-instrumented one does). The plain id stays the trace id of every
traced service, the tree stays connected, and the W3C side sees one stable trace id.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any, Callable

import pytest
import requests
from flask import Flask, jsonify, request
from opentelemetry import propagate
from opentelemetry import trace as trace_api

import traced_http as traced
from traced_http.propagation import w3c_trace_id
from traced_http.testing import assert_single_trace, build_tree, events_of, serve_app

SERVICES = ("gateway", "orders", "billing")


@pytest.fixture
def chain(make_app: Callable[..., Any]) -> Iterator[tuple[str, list[str]]]:
    """gateway -> orders -> billing -> ledger (W3C only); and the traceparents received."""
    received: list[str] = []

    def record() -> None:
        received.append(request.headers.get("traceparent", ""))

    ledger = Flask("ledger")
    ledger.before_request(record)
    ledger.add_url_rule("/", "ledger", lambda: jsonify(ok=True))
    with ExitStack() as stack:
        url = stack.enter_context(serve_app(ledger))
        for name in reversed(SERVICES):
            app = make_app(name)
            app.before_request(record)

            def forward(next_url: str = url) -> Any:
                return jsonify(next=traced.get(next_url + "/").json())

            app.add_url_rule("/", "forward", forward)
            url = stack.enter_context(serve_app(app))
        yield url, received


@pytest.mark.parametrize(
    "plain", ["req-391", "3ce6bd8a-338c-4c3d-82fc-158db314277b"], ids=["short", "dashed-uuid"]
)
def test_a_chain_from_x_request_id_is_one_connected_tree(chain, trace_events, plain):
    url, _ = chain

    response = requests.get(url, headers={"X-Request-ID": plain}, timeout=10)

    assert response.status_code == 200
    assert assert_single_trace(trace_events) == plain
    (root,) = build_tree(trace_events)
    assert [(node.span.service, depth) for node, depth in root.walk()] == [
        ("gateway", 0),
        ("gateway", 1),  # the gateway's call span
        ("orders", 2),
        ("orders", 3),
        ("billing", 4),
        ("billing", 5),  # billing's call to the W3C-only ledger
    ]
    (start,) = events_of(trace_events, "start", service="gateway")
    assert start["msg_dict"]["id_source"] == "x-request-id"
    for name in SERVICES[1:]:
        (start,) = events_of(trace_events, "start", service=name)
        assert start["msg_dict"]["id_source"] == "traceid"


def test_a_w3c_service_downstream_sees_one_stable_trace_id(chain):
    url, received = chain

    requests.get(url, headers={"X-Request-ID": "req-391"}, timeout=10)
    requests.get(url, headers={"X-Request-ID": "req-391"}, timeout=10)

    assert received[0] == ""  # the client sent a plain id only
    w3c_ids = set()
    for value in received[1:4] + received[5:]:
        context = propagate.extract({"traceparent": value})
        span_context = trace_api.get_current_span(context).get_span_context()
        assert span_context.is_valid and span_context.is_remote
        w3c_ids.add(trace_api.format_trace_id(span_context.trace_id))
    assert w3c_ids == {w3c_trace_id("req-391")}
