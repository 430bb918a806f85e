"""A real chain: two Flask apps on real threaded WSGI servers on 127.0.0.1.

The client calls app A, whose view calls app B with ``traced.get``. The logs of the
three parties form one trace, and the tree can be rebuilt from the events alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from flask import jsonify, request

import traced_http as traced
from traced_http.testing import assert_single_trace, events_of, serve_app


@pytest.fixture
def chain(make_app: Callable[..., Any]) -> Iterator[str]:
    app_b = make_app("billing")

    @app_b.route("/charge", methods=["POST"])
    def charge() -> Any:
        return jsonify(charged=request.get_json()["amount"], seen=request.headers["traceid"])

    app_a = make_app("orders")
    with serve_app(app_b) as url_b:

        @app_a.route("/order")
        def order() -> Any:
            answer = traced.post(url_b + "/charge", json={"amount": 12})
            return jsonify(billing=answer.json(), status=answer.status_code)

        with serve_app(app_a) as url_a:
            yield url_a


def test_untraced_client_one_trace_through_a_and_b(chain, trace_events):
    response = requests.get(chain + "/order", timeout=10)

    assert response.status_code == 200
    trace_id = assert_single_trace(trace_events)
    assert response.headers["traceid"] == trace_id
    assert response.json()["billing"] == {"charged": 12, "seen": trace_id}
    (start_a,) = events_of(trace_events, "start", service="orders")
    (call_a,) = events_of(trace_events, "call", service="orders")
    (end_a,) = events_of(trace_events, "end", service="orders")
    (start_b,) = events_of(trace_events, "start", service="billing")
    (end_b,) = events_of(trace_events, "end", service="billing")
    assert start_a["parent_id"] is None
    assert start_a["msg_dict"]["id_source"] == "generated"
    assert call_a["parent_id"] == start_a["span_id"]
    assert start_b["parent_id"] == call_a["span_id"]
    assert start_b["msg_dict"]["id_source"] == "traceparent"
    assert end_b["span_id"] == start_b["span_id"]
    assert call_a["msg_dict"]["status_code"] == 200
    assert call_a["msg_dict"]["method"] == "POST"
    assert call_a["msg_dict"]["response_data"] == {"charged": 12, "seen": trace_id}
    assert end_a["msg_dict"]["status_code"] == 200
    assert [e["trace_index"] for e in (start_a, call_a, end_a)] == [1, 2, 3]
    assert [e["trace_index"] for e in (start_b, end_b)] == [1, 2]


def test_traced_client_outside_any_trace_is_the_root_of_the_chain(chain, trace_events):
    traced.get(chain + "/order")

    assert_single_trace(trace_events)
    (root,) = [e for e in events_of(trace_events, "call") if e["service"] == "python"]
    (start_a,) = events_of(trace_events, "start", service="orders")
    (call_a,) = events_of(trace_events, "call", service="orders")
    (start_b,) = events_of(trace_events, "start", service="billing")
    assert root["parent_id"] is None
    assert root["trace_index"] == 1
    assert start_a["parent_id"] == root["span_id"]
    assert start_b["parent_id"] == call_a["span_id"]
