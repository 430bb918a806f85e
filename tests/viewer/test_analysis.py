"""What the viewer concludes from a trace: root cause, hop breakdown, self time, critical path."""

from __future__ import annotations

import pytest
from viewer_logs import FAILED_TRACE, JOB_TRACE, TRACE, Chain

from traced_http.viewer import build_tree
from traced_http.viewer.analysis import Analysis, analyse, key_of
from traced_http.viewer.trace import Trace, make_trace


def analysed(chain: Chain, trace_id: str = "t") -> tuple[Trace, Analysis]:
    trace = make_trace(trace_id, build_tree(e for e in chain.events if e["traceid"] == trace_id))
    return trace, analyse(trace)


def labels(trace: Trace, keys: set[tuple[str, str]]) -> list[str]:
    return [f"{n.span.service} {n.span.label}" for n, _ in trace.nodes() if key_of(n.span) in keys]


def cascade() -> Chain:
    """gateway -> orders -> billing, where billing raises and every caller answers 500."""
    c = Chain()
    c.failed_checkout()
    return c


def test_root_cause_is_the_deepest_failure_and_its_callers_failed_because_of_it() -> None:
    trace, analysis = analysed(cascade())
    assert analysis.headline == "billing: RuntimeError: card declined"
    assert analysis.root_cause is not None
    assert analysis.root_cause.span.label == "POST /charge"
    assert labels(trace, analysis.caused) == [
        "gateway POST /checkout",
        "gateway call POST http://orders/pay",
        "orders POST /pay",
        "orders call POST http://billing/charge",
    ]
    assert trace.error_count == 5  # the old count; only one of them is where it began


def test_a_failure_that_reached_the_root_beats_a_deeper_one_that_was_handled() -> None:
    c = cascade()
    root = next(e for e in c.events if e["service"] == "gateway" and e["event_des"] == "end")
    # A deeper failure below orders that orders survived (a cache lookup that raised).
    orders = next(e for e in c.events if e["service"] == "orders" and e["event_des"] == "start")
    hop = c.call(
        "orders",
        "GET",
        "http://cache/x",
        trace="t",
        parent=orders["span_id"],
        start=0.021,
        duration=0.005,
        status=200,
    )
    c.request("cache", "GET", "/x", trace="t", parent=hop, start=0.022, duration=0.002, status=503)
    trace, analysis = analysed(c)
    assert analysis.headline == "billing: RuntimeError: card declined"
    assert "cache GET /x" in labels(trace, analysis.origins)  # still marked where it began
    assert root["msg_dict"]["status_code"] == 500


def test_an_attempt_replaced_by_a_retry_is_not_the_root_cause(chain: Chain) -> None:
    trace, analysis = analysed(chain, TRACE)
    # inventory's 503 was retried away; the payments call that could not connect was not.
    assert analysis.headline == "gateway → payments.internal: ConnectionError: connection refused"
    assert labels(trace, analysis.retried_away) == ["inventory GET /stock/42"]
    assert analysis.caused == set()  # the gateway answered 200 all the same


@pytest.mark.parametrize(
    ("trace_id", "headline"),
    [
        (FAILED_TRACE, "gateway: ValueError: bad basket"),
        (JOB_TRACE, "worker → orders.internal: HTTP 502 on call GET http://orders.internal/export"),
    ],
)
def test_headline_names_service_and_error(chain: Chain, trace_id: str, headline: str) -> None:
    assert analysed(chain, trace_id)[1].headline == headline


def test_no_failure_no_root_cause() -> None:
    c = Chain()
    c.request("gateway", "GET", "/", trace="t", start=0, duration=0.1)
    _, analysis = analysed(c)
    assert analysis.root_cause is None and analysis.headline is None
    assert analysis.origins == analysis.caused == set()


def test_hop_breakdown_client_server_gap_and_retries(chain: Chain) -> None:
    trace, analysis = analysed(chain, TRACE)
    hops = {
        n.span.url: analysis.hops[key_of(n.span)]
        for n, _ in trace.nodes()
        if n.span.url and n.span.kind == "call"
    }
    orders = hops["http://orders.internal/orders/42"]
    assert orders.client == pytest.approx(0.120)
    assert orders.server == pytest.approx(0.115)
    assert orders.gap == pytest.approx(0.005)
    assert (orders.attempts, orders.retry_cost) == (1, None)
    stock = hops["http://inventory.internal/stock/42"]
    assert stock.attempts == 2
    assert stock.server == pytest.approx(0.050)  # the attempt that answered
    assert stock.gap == pytest.approx(0.100 - 0.015 - 0.050)
    assert stock.retry_cost == pytest.approx(0.040)  # call start to the last attempt's start
    payments = hops["http://payments.internal/charge"]
    assert (payments.server, payments.gap) == (None, None)  # no server ever answered


def test_self_time_is_duration_outside_children(chain: Chain) -> None:
    trace, analysis = analysed(chain, TRACE)
    by_label = {
        n.span.label: analysis.self_time[key_of(n.span)]
        for n, _ in trace.nodes()
        if n.span.kind != "call"
    }
    # /checkout: 200 ms, calls at 10..130 and 140..190 ms
    assert by_label["GET /checkout"] == pytest.approx(0.200 - 0.120 - 0.050, abs=1e-6)
    assert by_label["GET /orders/42"] == pytest.approx(0.115 - 0.100, abs=1e-6)


def test_self_time_counts_overlapping_children_once() -> None:
    c = Chain()
    root = c.request("gateway", "GET", "/fan", trace="t", start=0, duration=1.0)
    for start in (0.1, 0.2, 0.3):  # three parallel calls covering 0.1 .. 0.8
        c.call(
            "gateway", "GET", f"http://x/{start}", trace="t", parent=root, start=start, duration=0.5
        )
    trace, analysis = analysed(c)
    assert analysis.self_time[key_of(trace.roots[0].span)] == pytest.approx(0.3)


def test_critical_path_follows_what_the_parent_waited_for() -> None:
    c = Chain()
    root = c.request("gateway", "GET", "/fan", trace="t", start=0, duration=1.0)
    c.call("gateway", "GET", "http://fast/", trace="t", parent=root, start=0.1, duration=0.2)
    slow = c.call("gateway", "GET", "http://slow/", trace="t", parent=root, start=0.1, duration=0.6)
    c.request("slow", "GET", "/", trace="t", parent=slow, start=0.15, duration=0.5)
    c.call("gateway", "GET", "http://after/", trace="t", parent=root, start=0.75, duration=0.2)
    c.call("gateway", "GET", "http://early/", trace="t", parent=root, start=0.0, duration=0.05)
    trace, analysis = analysed(c)
    assert labels(trace, analysis.critical) == [
        "gateway GET /fan",
        "gateway call GET http://early/",
        "gateway call GET http://slow/",
        "slow GET /",
        "gateway call GET http://after/",
    ]


def test_analysis_survives_spans_without_times_and_deep_chains() -> None:
    c = Chain()
    parent = c.request("s", "GET", "/0", trace="t", start=0, duration=5.0, status=500)
    for depth in range(1, 3000):
        parent = c.request(
            "s",
            "GET",
            f"/{depth}",
            trace="t",
            parent=parent,
            start=depth * 1e-4,
            duration=1.0,
            status=500,
        )
    c.events.append({**c.events[-1], "span_id": "x" * 16, "event_des": "note", "msg_dict": {}})
    _trace, analysis = analysed(c)
    assert analysis.root_cause is not None and analysis.root_cause.span.path == "/2999"
    assert len(analysis.caused) == 2999
