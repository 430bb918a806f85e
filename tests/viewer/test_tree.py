"""build_tree rebuilds the chain from events alone: parents, order, durations, orphans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from viewer_logs import JOB_TRACE, TRACE, Chain, make_chain

from traced_http.viewer import SpanNode, build_tree


def labels(node: SpanNode) -> list[tuple[int, str]]:
    return [(depth, n.span.label) for n, depth in node.walk()]


def only(chain: Chain, trace: str, services: set[str] | None = None) -> list[dict[str, object]]:
    return [
        e
        for e in chain.events
        if e["traceid"] == trace and (services is None or e["service"] in services)
    ]


def test_chain_rebuilt_with_parents_and_start_order(chain: Chain) -> None:
    (root,) = build_tree(only(chain, TRACE))
    assert labels(root) == [
        (0, "GET /checkout"),
        (1, "call GET http://orders.internal/orders/42"),
        (2, "GET /orders/42"),
        (3, "call GET http://inventory.internal/stock/42"),
        (4, "GET /stock/42"),
        (4, "GET /stock/42"),
        (1, "call POST http://payments.internal/charge"),
    ]
    call = root.children[0]
    assert call.span.parent_id == root.span.span_id
    assert call.children[0].span.parent_id == call.span.span_id
    assert [n.span.service for n, _ in root.walk()] == [
        "gateway",
        "gateway",
        "orders",
        "orders",
        "inventory",
        "inventory",
        "gateway",
    ]


def test_durations_statuses_and_errors(chain: Chain) -> None:
    (root,) = build_tree(only(chain, TRACE))
    spans = [n.span for n, _ in root.walk()]
    assert [round(s.duration * 1000, 3) for s in spans if s.duration is not None] == [
        200.0,
        120.0,
        115.0,
        100.0,
        15.0,
        50.0,
        50.0,
    ]
    assert [s.status for s in spans] == [200, 200, 200, 200, 503, 200, None]
    failed = spans[-1]
    assert failed.failed and failed.error is not None
    assert (failed.error.type, failed.error.message) == ("ConnectionError", "connection refused")
    assert not spans[0].failed


def test_retried_call_shows_retry_and_both_attempts(chain: Chain) -> None:
    (root,) = build_tree(only(chain, TRACE))
    inventory_call = root.children[0].children[0].children[0]
    (retry,) = inventory_call.span.annotations
    assert retry.kind == "retry"
    assert retry.details["attempt"] == 1 and retry.details["status"] == 503
    attempts = inventory_call.children
    assert [a.span.status for a in attempts] == [503, 200]
    assert attempts[0].span.start is not None and attempts[1].span.start is not None
    assert attempts[0].span.start < attempts[1].span.start


def test_user_event_is_an_annotation_of_its_request(chain: Chain) -> None:
    (root,) = build_tree(only(chain, TRACE))
    orders = root.children[0].children[0]
    assert [a.name for a in orders.span.annotations] == ["cache-miss"]
    assert orders.span.annotations[0].time is not None


def test_missing_service_log_makes_an_orphan_under_the_root(chain: Chain) -> None:
    (root,) = build_tree(only(chain, TRACE, {"gateway", "inventory"}))
    assert root.span.label == "GET /checkout" and not root.orphan
    orphans = [n for n in root.children if n.orphan]
    assert [o.span.label for o in orphans] == ["GET /stock/42", "GET /stock/42"]
    assert all(not n.orphan for n, _ in root.walk() if n.span.service == "gateway")
    # Orphans take their place among the root's children by start time.
    starts = [n.span.start for n in root.children if n.span.start is not None]
    assert len(starts) == len(root.children) and starts == sorted(starts)


def test_without_any_root_the_orphans_are_the_top_level(chain: Chain) -> None:
    tops = build_tree(only(chain, TRACE, {"inventory"}))
    assert [(t.orphan, t.span.status) for t in tops] == [(True, 503), (True, 200)]


def test_several_roots_are_all_kept_in_time_order() -> None:
    c = Chain()
    # A foreign id that is not 32 hex: only `traceid` travels, so no parent downstream.
    c.request("orders", "GET", "/b", trace="req-7", start=0.5, duration=0.1)
    c.request("gateway", "GET", "/a", trace="req-7", start=0.0, duration=1.0)
    assert [t.span.label for t in build_tree(c.events)] == ["GET /a", "GET /b"]


def test_job_root_and_call_outside_request() -> None:
    c = Chain()
    c.call("script", "GET", "http://x/", trace="t1", parent=None, start=0.0, duration=0.2)
    (call_root,) = build_tree(c.events)
    assert call_root.span.kind == "call" and not call_root.orphan


def test_job_from_traced_trace(chain: Chain) -> None:
    (job,) = build_tree(only(chain, JOB_TRACE))
    assert job.span.label == "job nightly-sync"
    assert job.span.duration == 1.0
    assert [c.span.status for c in job.children] == [502]


def test_span_known_only_from_its_end_still_has_a_start() -> None:
    c = Chain()
    c.request("a", "GET", "/x", trace="t", start=1.0, duration=0.25)
    end_only = [e for e in c.events if e["event_des"] == "end"]
    (node,) = build_tree(end_only)
    assert node.span.duration == 0.25
    assert node.span.start == pytest.approx(c.events[0]["msg_dict"]["start_time"])


def test_parent_cycle_does_not_lose_spans() -> None:
    c = Chain()
    a = c.request("a", "GET", "/a", trace="t", start=0.0, duration=0.1)
    b = c.request("b", "GET", "/b", trace="t", start=0.01, duration=0.05, parent=a)
    for event in c.events:
        if event["span_id"] == a:
            event["parent_id"] = b
    tops = build_tree(c.events)
    shown = [n.span.span_id for top in tops for n, _ in top.walk()]
    assert sorted(shown) == sorted({a, b})


EVENTS = only(make_chain(), TRACE)


@settings(max_examples=50, deadline=None)
@given(shuffled=st.permutations(EVENTS))
def test_tree_does_not_depend_on_event_order(shuffled: list[dict[str, object]]) -> None:
    expected = [labels(r) for r in build_tree(EVENTS)]
    assert [labels(r) for r in build_tree(shuffled)] == expected
