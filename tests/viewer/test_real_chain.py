"""The viewer on events from a real chain: Flask apps with Tracing calling each other.

gateway -> orders runs through `route_to_app` (one thread); orders -> inventory goes over a
real socket (`serve_app`) so that urllib3's retry of a 503 really happens; gateway's call
to payments fails to connect. The tree is rebuilt from the captured events alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.testing import capture_events, intercept_calls, route_to_app, serve_app
from traced_http.viewer import SpanNode, build_tree
from traced_http.viewer.cli import main


def chain_events(make_app: Callable[..., Flask]) -> list[dict[str, Any]]:
    gateway, orders, inventory = make_app("gateway"), make_app("orders"), make_app("inventory")
    attempts: list[int] = []

    @inventory.route("/stock/<int:item>")
    def stock(item: int) -> tuple[dict[str, int], int]:
        attempts.append(item)
        return {"item": item, "left": 3}, 503 if len(attempts) == 1 else 200

    with serve_app(inventory) as inventory_url:
        session = traced.TracedSession(
            retries=Retry(total=2, status_forcelist=[503], backoff_factor=0)
        )

        @orders.route("/orders/<int:order>")
        def order(order: int) -> dict[str, Any]:
            traced.add_event("cache-miss", {"key": f"order:{order}"})
            stock = session.get(f"{inventory_url}/stock/{order}", timeout=5)
            return {"order": order, "stock": stock.json()}

        @gateway.route("/checkout")
        def checkout() -> tuple[str, int]:
            traced.get("http://orders.test/orders/42", timeout=5)
            try:
                traced.post("http://payments.test/charge", json={"amount": 5}, timeout=5)
            except requests.ConnectionError:
                return "payment failed", 502
            return "ok", 200

        with intercept_calls() as rsps:
            route_to_app(rsps, "http://orders.test", orders)
            rsps.add_passthru(inventory_url)
            with capture_events() as events:
                response = gateway.test_client().get("/checkout")
    assert response.status_code == 502
    assert attempts == [42, 42]
    return list(events)


def shape(node: SpanNode) -> list[tuple[int, str, str, int | None]]:
    return [(d, n.span.service, n.span.kind, n.span.status) for n, d in node.walk()]


def test_tree_from_a_real_chain(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    events = chain_events(make_app)
    (root,) = build_tree(events)
    assert shape(root) == [
        (0, "gateway", "request", 502),
        (1, "gateway", "call", 200),
        (2, "orders", "request", 200),
        (3, "orders", "call", 200),
        (4, "inventory", "request", 503),
        (4, "inventory", "request", 200),
        (1, "gateway", "call", None),
    ]
    assert root.span.label == "GET /checkout"
    to_orders, to_payments = root.children
    assert to_orders.span.label == "call GET http://orders.test/orders/42"
    assert to_payments.span.error is not None and to_payments.span.failed
    orders = to_orders.children[0]
    assert [a.name for a in orders.span.annotations] == ["cache-miss"]
    (retry,) = orders.children[0].span.annotations
    assert (retry.kind, retry.details["status"], retry.details["attempt"]) == ("retry", 503, 1)
    # Every span fits inside its parent's time (one process, one clock).
    for node, _ in root.walk():
        for child in node.children:
            assert node.span.start is not None and child.span.start is not None
            assert node.span.start <= child.span.start
            assert child.span.duration is not None and node.span.duration is not None
            assert child.span.start + child.span.duration <= node.span.start + node.span.duration

    log = tmp_path / "all.log"
    log.write_text("".join(json.dumps(e) + "\n" for e in reversed(events)), encoding="utf-8")
    assert main(["show", root.span.trace_id[:10], "--no-color", str(log)]) == 0
