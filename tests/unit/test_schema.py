"""The event schema: the writer's lines follow it, and the viewer's decisions come from it."""

from __future__ import annotations

from typing import Any

import pytest

import traced_http as traced
from traced_http import schema
from traced_http.viewer.spans import collect_spans
from traced_http.viewer.stats import Stats
from traced_http.viewer.summary import Summaries


def test_an_event_line_has_the_nine_public_fields_in_this_order() -> None:
    # Spelled out here on purpose: log pipelines parse these names, so changing one
    # (or their order) is a change of the public format and must fail this test.
    assert schema.FIELDS == (
        "ts",
        "service",
        "traceid",
        "span_id",
        "parent_id",
        "trace_index",
        "event_des",
        "msg_dict",
        "remarks",
    )


def test_every_written_event_has_the_schema_fields_in_order(
    trace_events: list[dict[str, Any]],
) -> None:
    with traced.trace("nightly"):
        traced.add_event("checkpoint", {"rows": 3})
    traced.add_event("outside")
    assert [e["event_des"] for e in trace_events] == [
        schema.START,
        "checkpoint",
        schema.END,
        "outside",
    ]
    for event in trace_events:
        assert tuple(event) == schema.FIELDS


@pytest.mark.parametrize(
    ("error", "status", "failed"),
    [
        (None, None, False),
        (None, 200, False),
        (None, 499, False),
        (None, 500, True),
        ({"type": "ValueError", "message": "x"}, 200, True),
        ({"type": "ValueError", "message": "x"}, None, True),
    ],
)
def test_a_span_failed_when_it_raised_or_answered_5xx(
    error: Any, status: Any, failed: bool
) -> None:
    assert schema.failed(error, status) is failed
    end = schema.make_event(
        "2026-06-02T07:31:26.000000Z",
        "svc",
        "t" * 32,
        "s" * 16,
        None,
        2,
        schema.END,
        {
            "method": "GET",
            "url": "http://svc/x",
            "end_time": 10.0,
            "cost_time": 1.0,
            "status_code": status,
            "error": error,
        },
        "",
    )
    # The viewer's span, summary and stats all answer as the schema does.
    assert collect_spans([end])[("t" * 32, "s" * 16)].failed is failed
    summaries = Summaries()
    summaries.add(end)
    assert summaries.traces["t" * 32].error is failed
    start = dict(end, event_des=schema.START, msg_dict={"method": "GET", "path": "/x"})
    stats = Stats()
    stats.add_all([start, end])
    assert sum(row.errors for row in stats.routes.values()) == int(failed)


@pytest.mark.parametrize(
    ("msg", "start_kind", "end_kind"),
    [
        ({"method": "GET", "url": "/x"}, schema.REQUEST, schema.REQUEST),
        ({"name": "nightly"}, schema.JOB, schema.JOB),
        ({"task_id": "1", "task": "add"}, schema.TASK, schema.TASK),
        ({"method": "GET", "name": "q", "status_code": 200}, schema.REQUEST, schema.REQUEST),
    ],
)
def test_what_a_span_is_comes_from_its_start_or_end(
    msg: dict[str, Any], start_kind: str, end_kind: str
) -> None:
    assert schema.start_kind(msg) == start_kind
    assert schema.end_kind(msg) == end_kind


def test_a_publish_without_a_task_id_is_a_user_event() -> None:
    assert schema.is_task_publish(schema.PUBLISH, {"task_id": "1"})
    assert not schema.is_task_publish(schema.PUBLISH, {"orders": 2})
