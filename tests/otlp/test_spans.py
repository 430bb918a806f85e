"""Events -> spans, from events the library really wrote (``capture_events``)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from loopback import closed_url
from opentelemetry.trace import SpanKind, StatusCode

import traced_http as traced
from flask_hooks import Tracing
from traced_http.otlp.spans import SpanAssembler
from traced_http.propagation import w3c_trace_id
from traced_http.testing import capture_events, route_to_app


def _spans(events: list[dict[str, Any]], assembler: SpanAssembler | None = None) -> list[Any]:
    assembler = assembler or SpanAssembler()
    return [span for span in map(assembler.add, events) if span is not None]


@pytest.fixture
def app() -> Flask:
    app = Flask("shop")
    Tracing(app)

    @app.route("/items/<int:item_id>", methods=["GET", "PURGE"])
    def item(item_id: int) -> Any:
        return {"id": item_id}

    @app.route("/status/<int:code>")
    def status(code: int) -> Any:
        return "", code

    return app


def test_plain_trace_id_exported_as_its_derived_id_and_kept_as_attribute(app):
    with capture_events() as events:
        app.test_client().get("/items/3", headers={"X-Request-ID": "req-391"})
    (span,) = _spans(events)
    assert format(span.context.trace_id, "032x") == w3c_trace_id("req-391")
    assert span.attributes["traceid"] == "req-391"
    assert span.name == "GET /items/<int:item_id>"
    assert span.kind is SpanKind.SERVER


def test_unmatched_route_is_named_by_method_alone(app):
    with capture_events() as events:
        app.test_client().get("/nowhere")
    (span,) = _spans(events)
    assert span.name == "GET"
    assert "http.route" not in span.attributes
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET  # a 4xx is the client's error


def test_unknown_method_is_other_as_the_conventions_say(app):
    with capture_events() as events:
        app.test_client().open("/items/3", method="PURGE")
    (span,) = _spans(events)
    assert span.name == "HTTP"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "PURGE"


@pytest.mark.parametrize(("code", "server"), [(404, StatusCode.UNSET), (503, StatusCode.ERROR)])
def test_an_answer_fails_the_client_span_from_4xx_and_the_server_span_from_5xx(
    app, traced_responses, code, server
):
    route_to_app(traced_responses, "http://shop.internal", app)
    with capture_events() as events:
        traced.get(f"http://shop.internal/status/{code}")
    spans = {span.kind: span for span in _spans(events)}
    assert spans[SpanKind.CLIENT].status.status_code is StatusCode.ERROR
    assert spans[SpanKind.CLIENT].attributes["error.type"] == str(code)
    assert spans[SpanKind.SERVER].status.status_code is server
    assert spans[SpanKind.SERVER].attributes["http.response.status_code"] == code


def test_failed_call_outside_a_trace_is_a_root_client_span_in_error():
    with capture_events() as events, pytest.raises(requests.ConnectionError):
        traced.get(closed_url("/x?token=abc"))
    (span,) = _spans(events)
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ConnectionError"
    assert span.attributes["url.full"].endswith("/x?token=[REDACTED]")
    assert [e.name for e in span.events] == ["exception"]


def test_trace_block_is_an_internal_span_with_its_events():
    with capture_events() as events, traced.trace("nightly"):
        traced.add_event("batch", {"rows": 3})
    (span,) = _spans(events)
    assert (span.kind, span.name, span.parent) == (SpanKind.INTERNAL, "nightly", None)
    (event,) = span.events
    assert (event.name, dict(event.attributes)) == ("batch", {"rows": 3})


def test_events_out_of_order_and_missing_starts(app):
    """Offline inputs: a rotated file may give an end before its start, or no start."""
    with capture_events() as events:
        app.test_client().get("/items/1")
        app.test_client().get("/items/2")
    first_start, first_end, second_start, second_end = events
    assembler = SpanAssembler()
    assert _spans([first_end, first_start, second_end], assembler)[0].name.startswith("GET")
    (orphan_end,) = assembler.unfinished()
    assert orphan_end.kind is SpanKind.SERVER
    cost = second_end["msg_dict"]["cost_time"]
    assert orphan_end.end_time - orphan_end.start_time == round(cost * 1e6) * 1000
    assert _spans([second_start], assembler) == []
    assert assembler.unfinished() == [] and assembler.dropped == 1


def test_open_spans_are_bounded(app):
    with capture_events() as events:
        for n in range(3):
            app.test_client().get(f"/items/{n}")
    starts = [e for e in events if e["event_des"] == "start"]
    assembler = SpanAssembler(max_open=2)
    assert _spans(starts, assembler) == []
    assert (assembler.open_spans, assembler.dropped) == (2, 1)


def test_an_event_outside_any_trace_belongs_to_no_span():
    with capture_events() as events:
        traced.add_event("boot", {"ok": True})
    assembler = SpanAssembler()
    assert _spans(events, assembler) == []
    assert assembler.open_spans == 0
