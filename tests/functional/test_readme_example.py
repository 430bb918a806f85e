"""The README's "Testing your services" example, verbatim: it must keep passing."""

# --- README example starts ---
from flask import Flask, request

import traced_http as traced
from flask_hooks import Tracing
from traced_http.testing import assert_single_trace, build_tree, route_to_app


def create_orders() -> Flask:
    app = Flask("orders")
    Tracing(app)

    @app.post("/orders")
    def create():
        bill = traced.post("http://billing.internal/bills", json=request.get_json())
        return {"order": 1, "bill": bill.json()}, 201

    return app


def create_billing() -> Flask:
    app = Flask("billing")
    Tracing(app)

    @app.post("/bills")
    def bill():
        return {"paid": request.get_json()["amount"]}

    return app


def test_an_order_is_billed_in_one_trace(trace_events, traced_responses):
    route_to_app(traced_responses, "http://billing.internal", create_billing())

    response = create_orders().test_client().post("/orders", json={"amount": 12})

    assert response.status_code == 201
    assert response.json == {"order": 1, "bill": {"paid": 12}}
    trace_id = assert_single_trace(trace_events)
    assert response.headers["traceid"] == trace_id
    (root,) = build_tree(trace_events)  # orders -> its call -> billing
    assert root.span.label == "POST /orders"
    (call,) = root.children
    assert call.span.label == "call POST http://billing.internal/bills"
    (billing,) = call.children
    assert (billing.span.service, billing.span.status) == ("billing", 200)


# --- README example ends ---
