"""Live export of a real three-service chain, decoded by the receiver.

gateway -> orders -> billing on real servers; a ``traced.trace()`` block opens the trace.
Every event becomes exactly the span the log describes: ids, parents, kinds, names,
attributes, status, events and times, and no planted secret reaches an exported byte.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from flask import abort, jsonify, request
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

import traced_http as traced
from traced_http.otlp.live import active_exports
from traced_http.testing import events_of, serve_app

SECRET = "s3cr3t-PLANTED-otlp"
URL_SECRET = "hunter2-in-a-url"


@pytest.fixture
def chain(make_app: Callable[..., Any], receiver: Any) -> Iterator[str]:
    billing = make_app("billing", otlp_endpoint=receiver.base_url)
    attempts = itertools.count()

    @billing.route("/charge", methods=["PUT"])
    def charge() -> Any:
        if next(attempts) == 0:
            abort(503)
        return jsonify(charged=request.get_json()["amount"])

    @billing.route("/refund/<refund_id>")
    def refund(refund_id: str) -> Any:
        # Flask logs this traceback itself: this secret is not the suite's planted marker.
        raise ValueError(f"ledger refused http://ledger.internal/{refund_id}?token={URL_SECRET}")

    orders = make_app("orders", otlp_endpoint=receiver.base_url)
    gateway = make_app("gateway", otlp_endpoint=receiver.base_url)
    with serve_app(billing) as billing_url:
        session = traced.TracedSession(retries=2)

        @orders.route("/orders/<int:order_id>", methods=["POST"])
        def order(order_id: int) -> Any:
            traced.add_event("priced", {"order_id": order_id, "api_key": SECRET}, "in stock")
            answer = session.put(billing_url + "/charge", json={"amount": 12})
            return jsonify(order=order_id, billing=answer.status_code)

        with serve_app(orders) as orders_url:

            @gateway.route("/checkout/<int:cart_id>")
            def checkout(cart_id: int) -> Any:
                placed = traced.post(
                    f"{orders_url}/orders/{cart_id}?access_token={SECRET}",
                    json={"password": SECRET},
                    headers={"Authorization": f"Bearer {SECRET}"},
                )
                refund = traced.get(billing_url + "/refund/r-1")
                return jsonify(placed=placed.json(), refund=refund.status_code)

            with serve_app(gateway) as gateway_url:
                yield gateway_url


def _by_id(spans: list[Any]) -> dict[str, Any]:
    ids = [s.span_id for s in spans]
    assert len(ids) == len(set(ids)), "a span was exported twice"
    return {s.span_id: s for s in spans}


def _us(seconds: float) -> int:
    return round(seconds * 1_000_000) * 1000


def test_every_event_becomes_the_span_the_log_describes(chain, trace_events, receiver):
    with traced.trace("nightly-checkout"):
        answer = traced.get(chain + "/checkout/7", headers={"User-Agent": "checkout-bot/1.0"})
    assert answer.json() == {"placed": {"order": 7, "billing": 200}, "refund": 500}
    (export,) = active_exports()
    assert export.flush()
    spans = _by_id(receiver.wait_for_spans(10, timeout=10))

    assert len(spans) == 10
    (trace_id,) = {s.trace_id for s in spans.values()}
    assert {e["traceid"] for e in trace_events} == {trace_id}

    (block,) = events_of(trace_events, "start", service="python")
    root = spans[block["span_id"]]
    assert (root.service, root.span.kind, root.span.name) == (
        "python",
        Span.SPAN_KIND_INTERNAL,
        "nightly-checkout",
    )
    assert root.parent_id is None

    # One CLIENT span per call event, child of the span that made it, named by its method.
    for call in events_of(trace_events, "call"):
        span = spans[call["span_id"]]
        msg = call["msg_dict"]
        assert span.span.kind == Span.SPAN_KIND_CLIENT
        assert span.service == call["service"]
        assert span.parent_id == call["parent_id"]
        assert span.span.name == msg["method"]
        assert span.attributes["http.request.method"] == msg["method"]
        assert span.attributes["url.full"] == msg["url"]
        assert span.attributes["server.address"] == "127.0.0.1"
        assert span.attributes["server.port"] > 0
        assert span.attributes["http.response.status_code"] == msg["status_code"]
        assert span.span.start_time_unix_nano == _us(msg["start_time"])
        assert span.span.end_time_unix_nano == _us(msg["start_time"]) + _us(msg["cost_time"])

    # One SERVER span per request, its parent the call that reached it.
    starts = {e["span_id"]: e for e in events_of(trace_events, "start") if e["service"] != "python"}
    ends = {e["span_id"]: e for e in events_of(trace_events, "end") if e["service"] != "python"}
    assert set(starts) == set(ends)
    calls = {e["span_id"] for e in events_of(trace_events, "call")}
    for span_id, start in starts.items():
        span = spans[span_id]
        opened, closed = start["msg_dict"], ends[span_id]["msg_dict"]
        assert span.span.kind == Span.SPAN_KIND_SERVER
        assert span.service == start["service"]
        assert span.parent_id == start["parent_id"] and span.parent_id in calls
        assert span.span.name == f"{opened['method']} {opened['route']}"
        assert span.attributes["http.route"] == opened["route"]
        assert span.attributes["url.path"] == opened["path"]
        assert span.attributes["url.scheme"] == "http"
        assert span.attributes["client.address"] == "127.0.0.1"
        assert span.attributes["http.response.status_code"] == closed["status_code"]
        assert span.span.start_time_unix_nano == _us(opened["start_time"])
        assert span.span.end_time_unix_nano == _us(closed["end_time"])

    names = sorted(spans[s].span.name for s in starts)
    assert names == [
        "GET /checkout/<int:cart_id>",
        "GET /refund/<refund_id>",
        "POST /orders/<int:order_id>",
        "PUT /charge",
        "PUT /charge",
    ]
    (gateway,) = [spans[s] for s in starts if starts[s]["service"] == "gateway"]
    assert gateway.attributes["user_agent.original"] == "checkout-bot/1.0"
    assert gateway.span.status.code == Status.STATUS_CODE_UNSET

    # The add_event of orders is an event of its request span, fields as attributes.
    (orders,) = [spans[s] for s in starts if starts[s]["service"] == "orders"]
    (priced,) = orders.span.events
    (logged,) = events_of(trace_events, "priced")
    assert priced.name == "priced"
    attributes = {kv.key: kv.value for kv in priced.attributes}
    assert attributes["order_id"].int_value == 7
    assert attributes["api_key"].string_value == "[REDACTED]"
    assert attributes["remarks"].string_value == "in stock"
    assert priced.time_unix_nano == _ts_ns(logged["ts"])

    # The retried charge: one CLIENT span whose event is the retry, and two billing requests.
    (charge_call,) = [e for e in events_of(trace_events, "call", "orders")]
    charge = spans[charge_call["span_id"]]
    assert [e.name for e in charge.span.events] == ["retry"]
    assert charge.attributes["http.request.resend_count"] == 1
    first, second = sorted(
        (spans[s] for s in starts if starts[s]["msg_dict"]["path"] == "/charge"),
        key=lambda s: s.span.start_time_unix_nano,
    )
    assert first.parent_id == second.parent_id == charge.span_id
    assert first.span.status.code == Status.STATUS_CODE_ERROR
    assert first.attributes["error.type"] == "503"

    # The view that raised: an ERROR server span with its exception, and an ERROR call.
    (refund,) = [spans[s] for s in starts if starts[s]["msg_dict"]["path"] == "/refund/r-1"]
    assert refund.span.status.code == Status.STATUS_CODE_ERROR
    assert refund.attributes["error.type"] == "ValueError"
    (exception,) = refund.span.events
    assert exception.name == "exception"
    refund_call = spans[refund.parent_id]
    assert refund_call.span.status.code == Status.STATUS_CODE_ERROR
    assert refund_call.attributes["error.type"] == "500"

    # Redaction holds in every exported byte, as in the logs.
    assert not any(SECRET.encode() in body for body in receiver.bodies)
    assert not any(URL_SECRET.encode() in body for body in receiver.bodies)
    assert all(h.get("Content-Encoding") == "gzip" for h in receiver.headers)


def _ts_ns(ts: str) -> int:
    from datetime import datetime, timezone

    moment = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return _us(moment.timestamp())
