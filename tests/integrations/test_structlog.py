"""structlog: every entry made inside a trace carries it, and traced-http's own events
render through structlog's JSON renderer as one object each (real structlog)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import jsonify

import traced_http as traced
from traced_http.structlog import add_trace_context, unpack_event
from traced_http.testing import serve_app

structlog = pytest.importorskip("structlog")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """structlog configured as a user would, writing JSON lines into a buffer."""
    out = io.StringIO()
    structlog.configure(
        processors=[add_trace_context, structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    yield out
    structlog.reset_defaults()


def entries(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_entry_inside_a_trace_has_its_ids(lines):
    with traced.trace("nightly", settings=traced.TraceSettings(service="jobs")) as ctx:
        structlog.get_logger().info("working", step=1)

    (entry,) = entries(lines)
    assert entry == {
        "step": 1,
        "event": "working",
        "traceid": ctx.trace_id,
        "span_id": ctx.span_id,
        "service": "jobs",
    }


def test_entry_outside_any_trace_is_unchanged(lines):
    structlog.get_logger().info("idle")

    assert entries(lines) == [{"event": "idle"}]


def test_values_bound_by_the_caller_win(lines):
    with traced.trace("job"):
        structlog.get_logger().bind(traceid="mine").info("x")

    assert entries(lines)[0]["traceid"] == "mine"


def test_entries_of_a_request_carry_the_request_trace(lines, make_app):
    app = make_app("orders")

    @app.route("/")
    def index() -> Any:
        structlog.get_logger().info("handling")
        return jsonify(ok=True)

    with serve_app(app) as url:
        response = requests.get(url, timeout=10)

    (entry,) = entries(lines)
    assert entry["traceid"] == response.headers["traceid"]
    assert entry["service"] == "orders"


def test_events_render_through_processor_formatter_once(trace_events):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[unpack_event, structlog.stdlib.add_log_level],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    events_logger = logging.getLogger("traced_http")
    events_logger.addHandler(handler)
    try:
        with traced.trace("job"):
            traced.add_event("step", {"quote": 'say "hi"'})
    finally:
        events_logger.removeHandler(handler)

    rendered = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["event"] for r in rendered] == ["start", "step", "end"]
    for line, original in zip(rendered, trace_events):
        assert line["level"] == "info"
        assert {k: line[k] for k in original} == original  # every field, not a string of them
    assert rendered[1]["msg_dict"] == {"quote": 'say "hi"'}


def test_other_records_pass_through_unpack_event():
    entry = {"event": "hello", "_record": logging.makeLogRecord({"msg": "hello"})}

    assert unpack_event(None, "info", dict(entry)) == entry
