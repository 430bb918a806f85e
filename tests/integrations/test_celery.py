"""Celery: a task continues the trace of whoever sent it (real Redis, real workers).

A Flask service queues a task; a real ``celery worker`` (prefork and solo pools) runs
it, and the task calls a second service. The events of the three processes (the test's
two services, the worker's main and child processes) rebuild into one tree.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from celery import Celery
from flask import jsonify

import traced_http as traced
from traced_http.celery import instrument
from traced_http.settings import TraceSettings
from traced_http.testing import assert_single_trace, build_tree, events_of, serve_app

tasks_app = pytest.importorskip("tasks_app")

RESULT_TIMEOUT = 20


@pytest.fixture
def billing_url(make_app: Callable[..., Any]) -> Iterator[str]:
    billing = make_app("billing")

    @billing.route("/charge")
    def charge() -> Any:
        return jsonify(ok=True)

    with serve_app(billing) as url:
        yield url


def test_request_task_and_second_service_form_one_tree(worker, billing_url, make_app, trace_events):
    orders = make_app("orders")

    @orders.route("/checkout")
    def checkout() -> Any:
        sent = tasks_app.call_billing.apply_async((billing_url,), queue=worker.queue)
        return jsonify(task_id=sent.id)

    with serve_app(orders) as url:
        task_id = requests.get(url + "/checkout", timeout=10).json()["task_id"]
        assert tasks_app.app.AsyncResult(task_id).get(timeout=RESULT_TIMEOUT) == 200
        worker.wait_event("end", task_id)

    trace_id = assert_single_trace(trace_events)
    everything = trace_events + worker.events_of_trace(trace_id)
    (root,) = build_tree(everything)
    assert root.span.service == "orders"
    (publish,) = root.children
    (task,) = publish.children
    (call,) = task.children
    (charge,) = call.children
    assert [n.span.kind for n in (publish, task, call, charge)] == [
        "publish",
        "task",
        "call",
        "request",
    ]
    assert task.span.queue_time is not None
    assert [n.span.service for n in (publish, task, call, charge)] == [
        "orders",
        "tasks",
        "tasks",
        "billing",
    ]
    (published,) = events_of(everything, "publish")
    assert published["msg_dict"]["task"] == "tasks_app.call_billing"
    assert published["msg_dict"]["task_id"] == task_id
    assert published["msg_dict"]["queue"] == worker.queue
    start = worker.wait_event("start", task_id)
    end = worker.wait_event("end", task_id)
    assert start["traceid"] == trace_id
    assert start["parent_id"] == published["span_id"]
    assert {k: start["msg_dict"][k] for k in ("task", "task_id", "queue", "attempt")} == {
        "task": "tasks_app.call_billing",
        "task_id": task_id,
        "queue": worker.queue,
        "attempt": 1,
    }
    assert end["span_id"] == start["span_id"]
    assert end["msg_dict"]["state"] == "SUCCESS"
    assert "error" not in end["msg_dict"]
    assert [e["trace_index"] for e in worker.events_of_trace(trace_id)] == [1, 2, 3]


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_task_sent_outside_any_trace_starts_a_root_trace(worker, trace_events):
    sent = tasks_app.noop.apply_async(queue=worker.queue)
    seen = sent.get(timeout=RESULT_TIMEOUT)

    start = worker.wait_event("start", sent.id)
    assert events_of(trace_events, "publish") == []
    assert start["parent_id"] is None
    assert start["traceid"] == seen == sent.id.replace("-", "")


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_retry_attempts_chain_up_with_retry_in(worker, trace_events):
    with traced.trace("nightly"):
        sent = tasks_app.flaky.apply_async(queue=worker.queue)
    assert sent.get(timeout=RESULT_TIMEOUT) == 2

    first = worker.wait_event("end", sent.id, attempt=1)
    second = worker.wait_event("end", sent.id, attempt=2)
    assert first["msg_dict"]["state"] == "RETRY"
    assert first["msg_dict"]["retry_in"] == pytest.approx(0.2)
    assert first["msg_dict"]["error"] == {"type": "ConnectionError", "message": "billing is down"}
    assert second["msg_dict"]["state"] == "SUCCESS"
    (job,) = build_tree(trace_events + worker.events_of_trace(second["traceid"]))
    (publish,) = job.children
    (attempt1,) = publish.children
    (republish,) = attempt1.children
    (attempt2,) = republish.children
    assert attempt2.span.span_id == second["span_id"]
    assert republish.span.events[0]["msg_dict"]["attempt"] == 2


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_countdown_shows_in_publish_and_start(worker, trace_events):
    with traced.trace("later"):
        sent = tasks_app.noop.apply_async(queue=worker.queue, countdown=0.3)
    sent.get(timeout=RESULT_TIMEOUT)

    (published,) = events_of(trace_events, "publish")
    start = worker.wait_event("start", sent.id)
    assert published["msg_dict"]["eta"] == start["msg_dict"]["eta"]
    sent_at = published["msg_dict"]["start_time"]
    eta = datetime.datetime.fromisoformat(published["msg_dict"]["eta"]).timestamp()
    assert eta - sent_at == pytest.approx(0.3, abs=0.05)
    # Celery's timer may fire a few milliseconds before the eta, never much earlier.
    assert start["msg_dict"]["start_time"] >= eta - 0.05


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_task_revoked_before_it_ran_gets_start_and_end(worker):
    with traced.trace("cancelled") as ctx:
        sent = tasks_app.noop.apply_async(queue=worker.queue, countdown=1)
    sent.revoke()

    end = worker.wait_event("end", sent.id)
    start = worker.wait_event("start", sent.id)
    assert end["traceid"] == start["traceid"] == ctx.trace_id
    assert end["msg_dict"]["state"] == "REVOKED"
    assert end["msg_dict"]["terminated"] is False


@pytest.mark.parametrize("worker", ["prefork"], indirect=True)
def test_terminated_task_gets_its_end(worker):
    with traced.trace("stuck") as ctx:
        sent = tasks_app.sleepy.apply_async((30,), queue=worker.queue)
    start = worker.wait_event("start", sent.id)
    sent.revoke(terminate=True)

    end = worker.wait_event("end", sent.id, state="REVOKED")
    assert (end["traceid"], end["span_id"]) == (ctx.trace_id, start["span_id"])
    assert end["msg_dict"]["state"] == "REVOKED"
    assert end["msg_dict"]["terminated"] is True


@pytest.mark.parametrize("worker", ["prefork"], indirect=True)
def test_task_killed_on_hard_time_limit_gets_its_end(worker):
    with traced.trace("slow") as ctx:
        sent = tasks_app.sleepy.apply_async((30,), queue=worker.queue, time_limit=0.5)

    end = worker.wait_event("end", sent.id)
    start = worker.wait_event("start", sent.id)
    assert (end["traceid"], end["span_id"]) == (ctx.trace_id, start["span_id"])
    assert end["msg_dict"]["state"] == "FAILURE"
    assert end["msg_dict"]["error"]["type"] == "TimeLimitExceeded"


def test_eager_task_is_a_child_of_the_caller(trace_events):
    with traced.trace("script") as ctx:
        result = tasks_app.noop.apply()

    assert result.get() == ctx.trace_id
    start, end = (e for e in trace_events if e["span_id"] != ctx.span_id)
    assert start["parent_id"] == ctx.span_id
    assert end["msg_dict"]["state"] == "SUCCESS"


@pytest.mark.parametrize(
    ("service", "settings", "main", "env", "named"),
    [
        ("stock", TraceSettings(service="ops"), "inventory", "from-env", "stock"),
        (None, TraceSettings(service="ops"), "inventory", "from-env", "ops"),
        (None, TraceSettings(capture_bodies=False), "inventory", "from-env", "inventory"),
        (None, None, "inventory", "from-env", "inventory"),
        (None, TraceSettings(capture_bodies=False), None, "from-env", "from-env"),
        (None, None, None, None, "python"),
    ],
    ids=["service", "settings", "settings-unnamed", "main", "OTEL_SERVICE_NAME", "default"],
)
def test_worker_events_name_the_first_service_given(
    request, monkeypatch, trace_events, service, settings, main, env, named
):
    if env is None:
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("OTEL_SERVICE_NAME", env)
    app = Celery(main, set_as_current=False)

    @app.task(name=request.node.name)  # one name per case: Celery warns on a reused one
    def job() -> None:
        return None

    instrument(app, service=service, settings=settings)
    job.apply()

    assert [(e["event_des"], e["service"]) for e in trace_events] == [
        ("start", named),
        ("end", named),
    ]


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_chain_and_group_stay_in_the_sender_trace(worker, trace_events):
    from celery import chain, group

    def link() -> Any:
        return tasks_app.noop.si().set(queue=worker.queue)

    with traced.trace("canvas") as ctx:
        linked = chain(link(), link()).apply_async()
        fanned = group(link(), link()).apply_async()
    assert linked.get(timeout=RESULT_TIMEOUT) == ctx.trace_id
    assert fanned.get(timeout=RESULT_TIMEOUT) == [ctx.trace_id, ctx.trace_id]

    first, second = linked.parent.id, linked.id
    worker.wait_event("end", second)
    (root,) = build_tree(trace_events + worker.events_of_trace(ctx.trace_id))
    sent = {n.span.events[0]["msg_dict"]["task_id"]: n for n in root.children}
    assert set(sent) == {first, *(result.id for result in fanned.results)}
    (first_run,) = sent[first].children
    (next_publish,) = first_run.children  # the chain's next link is sent by the first
    (second_run,) = next_publish.children
    assert second_run.span.events[0]["msg_dict"]["task_id"] == second


@pytest.mark.parametrize("worker", ["solo"], indirect=True)
def test_chord_callback_is_sent_by_the_header_task_that_completed_it(worker, trace_events):
    from celery import chord

    def link() -> Any:
        return tasks_app.noop.si().set(queue=worker.queue)

    with traced.trace("chord") as ctx:
        joined = chord([link(), link()])(link())
    assert joined.get(timeout=RESULT_TIMEOUT) == ctx.trace_id

    end = worker.wait_event("end", joined.id)
    (root,) = build_tree(trace_events + worker.events_of_trace(ctx.trace_id))
    parent_of = {child.span.span_id: node for node, _ in root.walk() for child in node.children}
    sent_by = parent_of[end["span_id"]]
    assert sent_by.span.kind == "publish"
    assert parent_of[sent_by.span.span_id].span.label == "task tasks_app.noop"  # a header task
    assert sum(node.span.kind == "task" for node, _ in root.walk()) == 3
