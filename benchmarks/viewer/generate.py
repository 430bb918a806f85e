"""Write a large event log from three services (gateway -> orders -> inventory) for benchmarks.

Lines follow the event format (README, "What gets logged") field for field. Each trace
is one checkout: 9 to 12 events
(start/end of each service, the call hops, a user event, sometimes a retry and an error),
interleaved with nearby traces as a shared log collector would write them, with a few
non-event and broken lines mixed in. Deterministic for a given --seed.

    python benchmarks/viewer/generate.py --events 1000000 -o /tmp/events.log
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

Event = dict[str, Any]
T0 = 1780385486.0


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Trace:
    """The events of one checkout trace, in the order the services would log them."""

    def __init__(self, rng: random.Random, start: float) -> None:
        self.rng = rng
        self.trace_id = f"{rng.getrandbits(128):032x}"
        self.events: list[tuple[float, Event]] = []
        self.index: dict[str, int] = {}
        self.build(start)

    def span(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def emit(
        self,
        at: float,
        service: str,
        span: str,
        parent: str | None,
        counter: str,
        kind: str,
        msg: dict[str, Any],
    ) -> None:
        self.index[counter] = self.index.get(counter, 0) + 1
        event = {
            "ts": _iso(at),
            "service": service,
            "traceid": self.trace_id,
            "span_id": span,
            "parent_id": parent,
            "trace_index": self.index[counter],
            "event_des": kind,
            "msg_dict": msg,
            "remarks": "",
        }
        self.events.append((at, event))

    def request(
        self,
        service: str,
        method: str,
        path: str,
        parent: str | None,
        start: float,
        duration: float,
        status: int,
        error: bool = False,
    ) -> str:
        span = self.span()
        headers = {
            "Host": f"{service}.internal",
            "User-Agent": "python-requests/2.32.3",
            "Accept": "application/json",
            "traceid": self.trace_id,
        }
        if parent:
            headers["traceparent"] = f"00-{self.trace_id}-{parent}-01"
        self.emit(
            start,
            service,
            span,
            parent,
            span,
            "start",
            {
                "method": method,
                "url": f"http://{service}.internal{path}",
                "path": path,
                "headers": headers,
                "request_data": {"page": "1"} if method == "GET" else {"sku": 7},
                "ip": "10.0.0.7",
                "remote_addr": "10.0.0.7",
                "start_time": start,
                "id_source": "traceparent" if parent else "generated",
            },
        )
        self.pending_end = (span, parent, service, start, duration, status, error)
        return span

    def end(self) -> None:
        span, parent, service, start, duration, status, error = self.pending_end
        msg: dict[str, Any] = {
            "end_time": start + duration,
            "cost_time": duration,
            "status_code": status,
            "headers": {"Content-Type": "application/json", "Content-Length": "42"},
            "response_data": {"ok": not error, "items": [1, 2, 3]},
        }
        if error:
            msg["error"] = {"type": "ValueError", "message": "basket is empty"}
        self.emit(start + duration, service, span, parent, span, "end", msg)

    def call(
        self,
        service: str,
        parent: str,
        url: str,
        start: float,
        duration: float,
        status: int,
        span: str | None = None,
    ) -> str:
        span = span or self.span()
        self.emit(
            start + duration,
            service,
            span,
            parent,
            parent,
            "call",
            {
                "method": "GET",
                "url": url,
                "start_time": start,
                "cost_time": duration,
                "status_code": status,
                "request_size": 0,
                "response_size": 42,
                "response_data": {"ok": status < 500},
            },
        )
        return span

    def build(self, t: float) -> None:
        rng = self.rng
        failing = rng.random() < 0.02
        retried = rng.random() < 0.05
        inv_time = rng.lognormvariate(-4.5, 0.5)
        orders_time = inv_time * (2 if retried else 1) + rng.lognormvariate(-5, 0.4)
        total = orders_time + rng.lognormvariate(-5.5, 0.4)
        root = self.request(
            "gateway", "POST", "/checkout", None, t, total, 500 if failing else 200, error=failing
        )
        gateway_end = self.pending_end
        to_orders = self.span()
        order_id = rng.randrange(1, 100000)
        orders = self.request(
            "orders", "GET", f"/orders/{order_id}", to_orders, t + 0.001, orders_time, 200
        )
        orders_end = self.pending_end
        self.emit(
            t + 0.002,
            "orders",
            orders,
            to_orders,
            orders,
            "cache-miss",
            {"key": f"order:{order_id}"},
        )
        to_inventory = self.span()
        attempt_start = t + 0.003
        # A retried call's first attempt gets a 503 and a retry event; the last one, a 200.
        attempts = [(0.5, 503), (0.9, 200)] if retried else [(0.9, 200)]
        for share, status in attempts:
            self.request(
                "inventory",
                "GET",
                f"/stock/{order_id}",
                to_inventory,
                attempt_start,
                inv_time * share,
                status,
            )
            self.end()
            if status == 503:
                self.emit(
                    attempt_start + inv_time * 0.6,
                    "orders",
                    to_inventory,
                    orders,
                    orders,
                    "retry",
                    {
                        "method": "GET",
                        "url": f"http://inventory.internal/stock/{order_id}",
                        "attempt": 1,
                        "reason": "status 503",
                        "status": 503,
                    },
                )
                attempt_start += inv_time
        self.call(
            "orders",
            orders,
            f"http://inventory.internal/stock/{order_id}",
            t + 0.003,
            attempt_start + inv_time - t - 0.003,
            200,
            span=to_inventory,
        )
        self.pending_end = orders_end
        self.end()
        self.call(
            "gateway",
            root,
            f"http://orders.internal/orders/{order_id}",
            t + 0.0005,
            orders_time + 0.001,
            200,
            span=to_orders,
        )
        self.pending_end = gateway_end
        self.end()


def events(count: int, seed: int) -> Iterator[str]:
    """About `count` lines: trace events in log order, plus 0.1% application/broken lines."""
    rng = random.Random(seed)
    window: list[tuple[float, str]] = []
    written = 0
    t = T0
    while written < count:
        trace = _Trace(rng, t)
        t += rng.expovariate(200.0)
        for at, event in trace.events:
            window.append((at, json.dumps(event)))
        window.sort(key=lambda pair: pair[0])
        while len(window) > 64:
            yield window.pop(0)[1]
            written += 1
            if rng.random() < 0.001:
                yield json.dumps({"message": "cache warmed", "level": "INFO"})
                written += 1
            if rng.random() < 0.0002:
                yield '{"ts": "2026-06-02T07:31:26Z", "service": "orders", "traceid": "'
                written += 1
    for _at, line in window:
        yield line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()
    with open(args.output, "w", encoding="utf-8") as out:
        for line in events(args.events, args.seed):
            out.write(line + "\n")


if __name__ == "__main__":
    main()
