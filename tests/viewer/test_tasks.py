"""Celery tasks in the viewer: publish and task spans in the tree, queue time, stats by task.

The events are those ``traced_http.celery`` writes: a ``publish`` from the sender, a
``start`` and an ``end`` per attempt from the worker.
"""

from __future__ import annotations

from typing import Any

from viewer_logs import T0, Chain, iso

from traced_http.viewer import build_tree
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.stats import Stats
from traced_http.viewer.style import Style
from traced_http.viewer.trace import make_trace

TRACE = "7" * 32
TASK = "send_receipt"


def event(
    at: float, service: str, span: str, parent: str, index: int, kind: str, msg: dict[str, Any]
) -> dict[str, Any]:
    return {
        "ts": iso(T0 + at),
        "service": service,
        "traceid": TRACE,
        "span_id": span,
        "parent_id": parent,
        "trace_index": index,
        "event_des": kind,
        "msg_dict": msg,
        "remarks": "",
    }


def attempt(
    span: str, parent: str, number: int, start: float, duration: float, state: str, **end: Any
) -> list[dict[str, Any]]:
    """One execution in the worker: its start and its end."""
    msg = {"task": TASK, "task_id": "t-1", "queue": "mail", "attempt": number}
    return [
        event(start, "worker", span, parent, 1, "start", {**msg, "start_time": T0 + start}),
        event(
            start + duration,
            "worker",
            span,
            parent,
            2,
            "end",
            {
                **msg,
                "state": state,
                "end_time": T0 + start + duration,
                "cost_time": duration,
                **end,
            },
        ),
    ]


def publish(span: str, parent: str, at: float, service: str, **extra: Any) -> dict[str, Any]:
    msg = {
        "task": TASK,
        "task_id": "t-1",
        "queue": "mail",
        "start_time": T0 + at,
        "cost_time": 0.002,
        **extra,
    }
    return event(at, service, span, parent, 2, "publish", msg)


def retried_task() -> list[dict[str, Any]]:
    """A request queues a task; its first attempt fails and is retried 0.5 s later."""
    chain = Chain()
    root = chain.request("shop", "POST", "/checkout", trace=TRACE, start=0.0, duration=0.05)
    error = {"type": "ConnectionError", "message": "smtp down"}
    return [
        *chain.events,
        publish("a" * 16, root, 0.01, "shop"),
        *attempt("b" * 16, "a" * 16, 1, 0.11, 0.02, "RETRY", error=error, retry_in=0.5),
        publish("c" * 16, "b" * 16, 0.125, "worker", attempt=2),
        *attempt("d" * 16, "c" * 16, 2, 0.625, 0.03, "SUCCESS"),
    ]


def test_publish_and_attempts_chain_under_the_request() -> None:
    (root,) = build_tree(retried_task())

    (sent,) = root.children
    (first,) = sent.children
    (resent,) = first.children
    (second,) = resent.children
    assert [n.span.kind for n in (sent, first, resent, second)] == [
        "publish",
        "task",
        "publish",
        "task",
    ]
    assert sent.span.label == f"publish {TASK} → mail"
    assert second.span.label == f"task {TASK} (attempt 2)"
    assert first.span.state == "RETRY" and first.span.failed
    assert first.span.queue_time is not None and abs(first.span.queue_time - 0.1) < 1e-6
    assert second.span.queue_time is not None and abs(second.span.queue_time - 0.5) < 1e-6
    assert second.span.state == "SUCCESS" and not second.span.failed


def test_text_tree_shows_state_and_queue_time() -> None:
    text = render_trace(make_trace(TRACE, build_tree(retried_task())), Style(False))

    lines = text.splitlines()
    (first,) = [line for line in lines if f"task {TASK}" in line and "attempt" not in line]
    (second,) = [line for line in lines if f"task {TASK} (attempt 2)" in line]
    assert "queued 100.0 ms" in first and "RETRY" in first
    assert "queued 500.0 ms" in second and "SUCCESS" in second
    assert sum(f"publish {TASK} → mail" in line for line in lines) == 2
    assert any("ConnectionError: smtp down" in line for line in lines)


def test_stats_reports_tasks_by_name() -> None:
    stats = Stats()
    stats.add_all(retried_task())

    rows = {(row.service, row.route): row for row in stats.rows()}
    task = rows[("worker", f"task {TASK}")]
    assert task.count == 2
    assert task.errors == 1
    assert ("shop", "POST /checkout") in rows
    assert not any(route.startswith("publish") for _, route in rows)


def test_task_seen_only_through_its_end_is_still_a_task() -> None:
    events = attempt("b" * 16, "a" * 16, 1, 0.1, 0.02, "REVOKED", terminated=True)[1:]

    (node,) = build_tree(events)
    assert node.span.kind == "task"
    assert node.span.state == "REVOKED"
    assert node.span.start is not None


def test_an_application_event_named_publish_stays_an_event() -> None:
    chain = Chain()
    root = chain.request("blog", "POST", "/posts", trace=TRACE, start=0.0, duration=0.05)
    own = event(0.01, "blog", root, "", 2, "publish", {"post": 7})
    own["parent_id"] = None

    (node,) = build_tree([*chain.events, own])
    assert node.span.kind == "request"
    assert [a.name for a in node.span.annotations] == ["publish"]
