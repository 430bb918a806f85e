"""A failing backend never reaches the requests: down, erroring, rate-limiting or hanging.

Requests are checked by their own end events (how long each took, as the service saw it)
and by counting: the queue stays within its bound, and every event is either exported,
counted as dropped, or counted as not delivered.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from loopback import closed_url

from flask_hooks import Tracing
from traced_http.otlp import traces_url
from traced_http.otlp.live import start_export

REQUESTS = 10_000
QUEUE = 1_000


class _CostWatch(logging.Handler):
    """Counts end events and keeps the slowest request's ``cost_time``."""

    def __init__(self) -> None:
        super().__init__()
        self.ends = 0
        self.slowest = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record.msg, "event", None)
        if event is not None and event["event_des"] == "end":
            self.ends += 1
            self.slowest = max(self.slowest, event["msg_dict"]["cost_time"])


@pytest.fixture
def watch() -> Any:
    handler = _CostWatch()
    logging.getLogger("traced_http").addHandler(handler)
    return handler


@pytest.fixture(autouse=True)
def _short_exporter_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")


def _app(base_url: str) -> Flask:
    app = Flask("orders")
    Tracing(app, otlp_endpoint=base_url)

    @app.route("/orders/<int:order_id>")
    def order(order_id: int) -> Any:
        return {"id": order_id}

    return app


def test_backend_down_many_requests_bounded_and_counted(watch, caplog, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")  # fail each batch fast
    base = closed_url()
    export = start_export(traces_url(base), queue_size=QUEUE)
    client = _app(base).test_client()
    deepest = 0
    with caplog.at_level(logging.WARNING, "traced_http.internal"):
        for n in range(REQUESTS):
            assert client.get(f"/orders/{n}").status_code == 200
            deepest = max(deepest, len(export._queue))
        assert export.flush(timeout=10)
    stats = export.stats
    assert watch.ends == REQUESTS
    assert deepest <= QUEUE  # memory: the queue never outgrows its bound
    assert stats.exported == 0
    # Each request is counted as lost: its span not delivered, or one or both of its
    # two events dropped when the worker fell behind.
    lost = REQUESTS - stats.failed
    assert lost <= stats.dropped_events <= 2 * lost
    assert "spans not delivered" in caplog.text


@pytest.mark.parametrize("status", [500, 429])
def test_backend_errors_are_counted_then_it_recovers(receiver, status):
    receiver.status = status
    export = start_export(traces_url(receiver.base_url), interval=0.05)
    client = _app(receiver.base_url).test_client()
    for n in range(5):
        assert client.get(f"/orders/{n}").status_code == 200
    assert export.flush(timeout=10)
    assert receiver.posts >= 1 and receiver.spans() == []
    assert export.stats.failed == 5

    receiver.status = 200
    for n in range(3):
        client.get(f"/orders/{n}")
    assert export.flush(timeout=10)
    assert len(receiver.wait_for_spans(3)) == 3
    assert export.stats.exported == 3


def test_hanging_backend_does_not_hold_requests(receiver, watch, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "30")  # stuck for the whole test
    receiver.hang.set()
    export = start_export(traces_url(receiver.base_url), queue_size=QUEUE, interval=0.05)
    client = _app(receiver.base_url).test_client()
    client.get("/orders/0")
    assert receiver.wait_for_posts(1) == 1  # the worker is now stuck in the export
    for n in range(2_000):
        assert client.get(f"/orders/{n}").status_code == 200
    assert len(export._queue) <= QUEUE
    assert export.stats.dropped_events == 2 * 2_000 - QUEUE
    # Never waits for the exporter (stuck for 30 s here); the bound leaves room for a
    # loaded machine's pauses.
    assert watch.slowest < 5.0
    receiver.hang.clear()
    receiver.released.set()
