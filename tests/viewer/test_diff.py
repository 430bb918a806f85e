"""`traced-http diff` on logs of a real chain, before and after a change with a slow hop."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from real_chain_logs import Event, Faults, run_chain, write_per_service
from viewer_logs import Chain

from traced_http.viewer.diff import LogSet, compare_logs, compare_traces
from traced_http.viewer.trace import Trace, make_trace
from traced_http.viewer.tree import build_tree

SLOW = 0.2  # seconds inventory's /stock takes on top, after the change
CHAIN = {
    ("gateway", "GET /checkout/{id}"),
    ("gateway", "call GET orders/orders/{id}"),
    ("orders", "GET /orders/{id}"),
    ("orders", "call GET inventory/stock/{id}"),
    ("inventory", "GET /stock/{id}"),
}


def diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "traced_http", "diff", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def before_after(make_app: Callable[..., Flask]) -> tuple[list[Event], list[Event]]:
    """Before: the chain as it is. After: a slow /stock, a new /reserve call, no billing."""
    before = run_chain(make_app, Faults(), checkouts=4)
    after = run_chain(make_app, Faults(slow_stock=SLOW, reserve=True, billing=False), checkouts=4)
    return before, after


def last_trace(events: list[Event]) -> str:
    """The last checkout's trace (the first request of a run warms connections up)."""
    return [e for e in events if e["service"] == "gateway" and e["event_des"] == "start"][-1][
        "traceid"
    ]


def trace_of(events: list[Event], trace_id: str) -> Trace:
    return make_trace(trace_id, build_tree(e for e in events if e["traceid"] == trace_id))


def test_two_traces_side_by_side(
    before_after: tuple[list[Event], list[Event]], tmp_path: Path
) -> None:
    before, after = before_after
    a, b = last_trace(before), last_trace(after)
    changes = {
        (c.service, c.shape): c for c in compare_traces(trace_of(before, a), trace_of(after, b))
    }
    assert {k for k, c in changes.items() if c.status == "new"} == {
        ("orders", "call POST inventory/reserve/{id}"),
        ("inventory", "POST /reserve/{id}"),
    }
    assert {k for k, c in changes.items() if c.status == "missing"} == {
        ("gateway", "call POST billing/charge"),
        ("billing", "POST /charge"),
    }
    stock = changes[("inventory", "GET /stock/{id}")]
    assert stock.status == "slower"
    assert stock.after is not None and stock.before is not None
    assert stock.after - stock.before >= SLOW / 2
    assert stock.own_change is not None and stock.own_change >= SLOW / 2
    orders = changes[("orders", "GET /orders/{id}")]
    assert orders.own_change is not None and orders.own_change < SLOW / 2

    logs = write_per_service(before + after, tmp_path)
    result = diff(a[:12], b, *map(str, logs))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"A  trace {a}") and lines[1].startswith(f"B  trace {b}")
    assert lines[2] == "shape differs: 2 new span(s) in B, 2 missing from B"
    assert "slower in B; the time went to inventory GET /stock/{id}: +" in lines[3]
    row = next(line for line in lines if line.strip().startswith("inventory") and "/stock" in line)
    assert row.endswith("slower")


def test_the_same_route_twice_has_the_same_shape(
    before_after: tuple[list[Event], list[Event]], tmp_path: Path
) -> None:
    before, _ = before_after
    ids = [e["traceid"] for e in before if e["service"] == "gateway" and e["event_des"] == "start"]
    logs = write_per_service(before, tmp_path)
    result = diff(ids[-2], ids[-1], *map(str, logs))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2] == "same shape"


def test_two_sets_of_logs_sorted_by_impact(
    before_after: tuple[list[Event], list[Event]], tmp_path: Path
) -> None:
    before, after = before_after
    old, new = LogSet(), LogSet()
    old.add_all(before)
    new.add_all(after)
    changes = compare_logs(old, new)
    # Every hop on the slow path got slower by the planted time and leads the list.
    assert {(c.service, c.route) for c in changes[: len(CHAIN)]} == CHAIN
    for change in changes[: len(CHAIN)]:
        assert change.before is not None and change.after is not None
        p50_before, p50_after = change.before.percentile(0.5), change.after.percentile(0.5)
        assert p50_before is not None and p50_after is not None
        assert p50_after - p50_before >= SLOW / 2
    rest = {(c.service, c.route): c for c in changes[len(CHAIN) :]}
    assert rest[("billing", "POST /charge")].after is None
    assert rest[("inventory", "POST /reserve/{id}")].before is None

    write_per_service(before, tmp_path / "before")
    write_per_service(after, tmp_path / "after")
    result = diff(str(tmp_path / "before" / "*.log"), str(tmp_path / "after" / "*.log"))
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split()[:4] == ["SERVICE", "ROUTE", "COUNT", "A"]
    assert {tuple(row.split()[:2]) for row in rows[:2]} <= {
        (service, route.split()[0]) for service, route in CHAIN
    }
    assert rows[-1].endswith(("new", "gone"))


def test_mixing_a_trace_id_and_a_log_file_is_refused(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("", encoding="utf-8")
    result = diff(str(log), "4bf9", str(log))
    assert result.returncode == 1
    assert "give two trace ids" in result.stderr and "not one of each" in result.stderr


def test_very_deep_traces_compare() -> None:
    """A place in the tree is a number, not the path from the root: depth costs nothing."""
    depth = 5_000
    traces = []
    for trace_id, extra in (("a" * 32, 0.0), ("b" * 32, 0.5)):
        c = Chain()
        parent = None
        for level in range(depth):
            took = 1.0 + (extra if level == depth - 1 else 0.0)
            parent = c.request(
                "svc",
                "GET",
                f"/level/{level}",
                trace=trace_id,
                parent=parent,
                start=0,
                duration=took,
            )
        traces.append(make_trace(trace_id, build_tree(c.events)))
    changes = compare_traces(*traces)
    assert len(changes) == depth
    assert [c.status for c in changes].count("slower") == 1 and changes[-1].status == "slower"
