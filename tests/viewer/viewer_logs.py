"""Event logs as traced-http services write them (the README's event fields), for viewer tests.

`Chain` plays the services of a call chain: each request, call hop, retry and user
event becomes the JSON line the library would log, with the same fields and key order.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

Event = dict[str, Any]
T0 = 1780385486.0  # 2026-06-02T07:31:26Z


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Chain:
    """Writes the events of one or more traces; span ids are deterministic hex counters."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._ids = itertools.count(1)
        self._index: dict[str, int] = {}

    def new_id(self) -> str:
        return f"{next(self._ids):016x}"

    def _emit(
        self,
        ts: float,
        service: str,
        trace: str | None,
        span: str,
        parent: str | None,
        counter: str,
        kind: str,
        msg: dict[str, Any],
    ) -> None:
        self._index[counter] = self._index.get(counter, 0) + 1
        self.events.append(
            {
                "ts": iso(ts),
                "service": service,
                "traceid": trace,
                "span_id": span,
                "parent_id": parent,
                "trace_index": self._index[counter],
                "event_des": kind,
                "msg_dict": msg,
                "remarks": "",
            }
        )

    def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        trace: str,
        start: float,
        duration: float,
        parent: str | None = None,
        status: int = 200,
        error: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> str:
        """An inbound request: its start now, its end at once (order does not matter)."""
        span = self.new_id()
        self._emit(
            T0 + start,
            service,
            trace,
            span,
            parent,
            span,
            "start",
            {
                "method": method,
                "url": f"http://{host}{path}",
                "path": path.split("?")[0],
                "headers": {"Host": host, "traceid": trace},
                "request_data": {},
                "ip": "127.0.0.1",
                "remote_addr": "127.0.0.1",
                "start_time": T0 + start,
                "id_source": "traceparent" if parent else "generated",
            },
        )
        end: dict[str, Any] = {
            "end_time": T0 + start + duration,
            "cost_time": duration,
            "status_code": status,
            "headers": {"Content-Type": "application/json"},
            "response_data": {"ok": error is None},
        }
        if error is not None:
            end["error"] = error
        self._emit(T0 + start + duration, service, trace, span, parent, span, "end", end)
        return span

    def call(
        self,
        service: str,
        method: str,
        url: str,
        *,
        trace: str,
        parent: str | None,
        start: float,
        duration: float,
        status: int | None = 200,
        error: dict[str, str] | None = None,
        span: str | None = None,
    ) -> str:
        """One outbound hop, logged when it finished, as the library does."""
        span = span or self.new_id()
        msg: dict[str, Any] = {
            "method": method,
            "url": url,
            "start_time": T0 + start,
            "cost_time": duration,
            "request_size": 0,
            "response_size": 17,
            "response_data": {"ok": True},
        }
        if status is not None:
            msg["status_code"] = status
        if error is not None:
            msg["error"] = error
        counter = parent or span
        self._emit(T0 + start + duration, service, trace, span, parent, counter, "call", msg)
        return span

    def failed_checkout(
        self, *, path: str = "/pay", status: int = 500, orders_error: dict[str, str] | None = None
    ) -> tuple[str, str]:
        """Trace ``t``: gateway ``POST /checkout`` (answering ``status``) calls orders'
        ``POST path``, which calls billing's declined charge; every span fails. Returns the
        gateway's call and orders' span, for what a test adds under them."""
        root = self.request(
            "gateway", "POST", "/checkout", trace="t", start=0, duration=0.3, status=status
        )
        hop = self.call(
            "gateway",
            "POST",
            f"http://orders{path}",
            trace="t",
            parent=root,
            start=0.01,
            duration=0.28,
            status=500,
        )
        orders = self.request(
            "orders",
            "POST",
            path,
            trace="t",
            parent=hop,
            start=0.02,
            duration=0.26,
            status=500,
            error=orders_error,
        )
        self.declined_charge("orders", trace="t", parent=orders, start=0.03)
        return hop, orders

    def declined_charge(self, caller: str, *, trace: str, parent: str, start: float) -> str:
        """``caller`` calls billing's ``POST /charge`` at ``start`` (200 ms); billing raises
        ``RuntimeError: card declined`` at 0.05 s (150 ms) and both answer 500."""
        hop = self.call(
            caller,
            "POST",
            "http://billing/charge",
            trace=trace,
            parent=parent,
            start=start,
            duration=0.2,
            status=500,
        )
        self.request(
            "billing",
            "POST",
            "/charge",
            trace=trace,
            parent=hop,
            start=0.05,
            duration=0.15,
            status=500,
            error={"type": "RuntimeError", "message": "card declined"},
        )
        return hop

    def retry(
        self,
        service: str,
        *,
        trace: str,
        call_span: str,
        parent: str,
        at: float,
        attempt: int,
        method: str,
        url: str,
        status: int | None,
        reason: str,
    ) -> None:
        msg = {"method": method, "url": url, "attempt": attempt, "reason": reason, "status": status}
        self._emit(T0 + at, service, trace, call_span, parent, parent, "retry", msg)

    def event(
        self, service: str, name: str, *, trace: str, span: str, parent: str | None, at: float
    ) -> None:
        self._emit(T0 + at, service, trace, span, parent, span, name, {"key": "value"})

    def lines(self, services: set[str] | None = None) -> list[str]:
        return [json.dumps(e) for e in self.events if services is None or e["service"] in services]


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
FAILED_TRACE = "0af7651916cd43dd8448eb211c80319c"
JOB_TRACE = "f0e1d2c3b4a5968778695a4b3c2d1e0f"


def make_chain() -> Chain:
    """Three traces.

    TRACE: gateway GET /checkout -> orders GET /orders/42 (a cache-miss event), which calls
    inventory through a retry (503 then 200); then gateway's call to payments fails to
    connect. FAILED_TRACE: a gateway view that raised. JOB_TRACE: a job whose call fails.
    """
    c = Chain()
    root = c.request("gateway", "GET", "/checkout", trace=TRACE, start=0.0, duration=0.200)
    to_orders = c.call(
        "gateway",
        "GET",
        "http://orders.internal/orders/42",
        trace=TRACE,
        parent=root,
        start=0.010,
        duration=0.120,
    )
    orders = c.request(
        "orders", "GET", "/orders/42", trace=TRACE, parent=to_orders, start=0.012, duration=0.115
    )
    c.event("orders", "cache-miss", trace=TRACE, span=orders, parent=to_orders, at=0.015)
    to_inventory = c.new_id()
    stock_url = "http://inventory.internal/stock/42"
    c.retry(
        "orders",
        trace=TRACE,
        call_span=to_inventory,
        parent=orders,
        at=0.040,
        attempt=1,
        method="GET",
        url=stock_url,
        status=503,
        reason="status 503",
    )
    c.call(
        "orders",
        "GET",
        stock_url,
        trace=TRACE,
        parent=orders,
        start=0.020,
        duration=0.100,
        span=to_inventory,
    )
    c.request(
        "inventory",
        "GET",
        "/stock/42",
        trace=TRACE,
        parent=to_inventory,
        start=0.021,
        duration=0.015,
        status=503,
    )
    c.request(
        "inventory",
        "GET",
        "/stock/42",
        trace=TRACE,
        parent=to_inventory,
        start=0.060,
        duration=0.050,
    )
    c.call(
        "gateway",
        "POST",
        "http://payments.internal/charge",
        trace=TRACE,
        parent=root,
        start=0.140,
        duration=0.050,
        status=None,
        error={"type": "ConnectionError", "message": "connection refused"},
    )
    c.request(
        "gateway",
        "POST",
        "/orders",
        trace=FAILED_TRACE,
        start=5.0,
        duration=0.030,
        status=500,
        error={"type": "ValueError", "message": "bad basket"},
    )
    job = c.new_id()
    c._emit(
        T0 + 9.0,
        "worker",
        JOB_TRACE,
        job,
        None,
        job,
        "start",
        {"name": "nightly-sync", "start_time": T0 + 9.0},
    )
    c.call(
        "worker",
        "GET",
        "http://orders.internal/export",
        trace=JOB_TRACE,
        parent=job,
        start=9.001,
        duration=0.5,
        status=502,
    )
    c._emit(
        T0 + 10.0,
        "worker",
        JOB_TRACE,
        job,
        None,
        job,
        "end",
        {"name": "nightly-sync", "end_time": T0 + 10.0, "cost_time": 1.0},
    )
    return c


def write_log(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
