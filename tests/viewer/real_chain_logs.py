"""Logs written by real chains of traced Flask services on 127.0.0.1, with planted faults.

Each service is a real threaded server (`serve_app`); the events of all of them are
captured while the chain runs and written as one log file per service, as each service
would have written it. The faults are planted where they happen in real deployments: a
proxy that forwards without the trace headers, a client that is not traced, a clock
that is off (every time a service logged, shifted), a slow hop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from flask import Flask
from viewer_logs import iso

import traced_http as traced
from traced_http.testing import capture_events, serve_app
from traced_http.viewer.times import parse_iso

Event = dict[str, Any]
MakeApp = Callable[..., Flask]


@dataclass(frozen=True)
class Faults:
    """What to break in the chain."""

    proxy_drops_headers: bool = False  # gateway -> orders goes through a stripping proxy
    untraced_client: bool = False  # orders calls inventory with a plain requests.get
    billing_skew: float = 0.0  # seconds billing's clock is ahead
    slow_stock: float = 0.0  # seconds inventory's /stock takes on top
    reserve: bool = False  # orders also calls inventory's /reserve
    billing: bool = True  # gateway calls billing


def run_chain(make_app: MakeApp, faults: Faults, checkouts: int) -> list[Event]:
    """gateway GET /checkout -> orders GET /orders/<n> -> inventory GET /stock/<n>;
    gateway -> billing POST /charge. Returns the events of `checkouts` checkouts."""
    gateway, orders = make_app("gateway"), make_app("orders")
    inventory, billing = make_app("inventory"), make_app("billing")
    proxy = Flask("proxy")  # not traced

    @inventory.route("/stock/<int:item>")
    def stock(item: int) -> dict[str, int]:
        if faults.slow_stock:
            time.sleep(faults.slow_stock)  # the planted slow hop
        return {"item": item, "left": 3}

    @inventory.route("/reserve/<int:item>", methods=["POST"])
    def reserve(item: int) -> dict[str, int]:
        return {"item": item}

    @billing.route("/charge", methods=["POST"])
    def charge() -> dict[str, bool]:
        return {"ok": True}

    with serve_app(inventory) as inventory_url, serve_app(billing) as billing_url:
        session = traced.TracedSession()

        @orders.route("/orders/<int:order>")
        def order(order: int) -> dict[str, Any]:
            url = f"{inventory_url}/stock/{order}"
            if faults.untraced_client:
                left = requests.get(url, timeout=5).json()
            else:
                left = session.get(url, timeout=5).json()
            if faults.reserve:
                session.post(f"{inventory_url}/reserve/{order}", timeout=5)
            return {"order": order, "stock": left}

        with serve_app(orders) as orders_url:

            @proxy.route("/<path:path>")
            def forward(path: str) -> tuple[bytes, int]:
                answer = requests.get(f"{orders_url}/{path}", timeout=5)  # headers dropped
                return answer.content, answer.status_code

            with serve_app(proxy) as proxy_url:
                orders_base = proxy_url if faults.proxy_drops_headers else orders_url

                @gateway.route("/checkout/<int:order>")
                def checkout(order: int) -> str:
                    session.get(f"{orders_base}/orders/{order}", timeout=5).raise_for_status()
                    if faults.billing:
                        session.post(f"{billing_url}/charge", json={"order": order}, timeout=5)
                    return "ok"

                with serve_app(gateway) as gateway_url, capture_events() as events:
                    for order_id in range(1, checkouts + 1):
                        answer = requests.get(f"{gateway_url}/checkout/{order_id}", timeout=10)
                        assert answer.status_code == 200
                    _wait_for_ends(events, checkouts)
    result = [dict(e) for e in events]
    if faults.billing_skew:
        for event in result:
            if event["service"] == "billing":
                _shift(event, faults.billing_skew)
    return result


def _wait_for_ends(events: list[Event], checkouts: int) -> None:
    """The gateway's end events are written after the response is sent: wait for them."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ends = [e for e in events if e["service"] == "gateway" and e["event_des"] == "end"]
        if len(ends) >= checkouts:
            return
        time.sleep(0.01)
    raise AssertionError("the gateway's end events were not written within 10 s")


def _shift(event: Event, seconds: float) -> None:
    """What a clock `seconds` ahead would have written."""
    msg = dict(event["msg_dict"])
    for name in ("start_time", "end_time"):
        if isinstance(msg.get(name), (int, float)):
            msg[name] += seconds
    event["msg_dict"] = msg
    stamp = parse_iso(event["ts"])
    if stamp is not None:
        event["ts"] = iso(stamp + seconds)


def write_per_service(events: list[Event], folder: Path) -> list[Path]:
    """One JSON-lines file per service, in the order each service logged."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[str]] = {}
    for event in events:
        files.setdefault(event["service"], []).append(json.dumps(event))
    paths = []
    for service, lines in sorted(files.items()):
        path = folder / f"{service}.log"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        paths.append(path)
    return paths
