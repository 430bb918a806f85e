"""The trace context of a request: visible inside it, gone after it, never mixed up."""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from flask import Flask, Response, abort, copy_current_request_context, g, request

import traced_http as traced
from traced_http.testing import events_of, serve_app


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("svc")

    @app.route("/")
    def index():
        ctx = traced.current_trace()
        return {
            "trace_id": ctx.trace_id,
            "span_id": ctx.span_id,
            "current_traceid": traced.current_traceid(),
            "g": g.traceid,
        }

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.route("/missing")
    def missing():
        abort(404)

    @app.route("/stream")
    def stream():
        return Response(iter(["a", "b"]))

    @app.route("/pool")
    def pool():
        with ThreadPoolExecutor(2) as executor:
            bound = executor.submit(traced.bind(traced.add_event), "bound", {"n": 1})
            unbound = executor.submit(traced.current_traceid)
            bound.result(timeout=5)
            return {"unbound": unbound.result(timeout=5)}

    return app


def test_inside_a_request_the_trace_is_active_and_g_mirrors_it(app, trace_events):
    response = app.test_client().get("/", headers={"traceid": "abc-1"})
    assert response.json == {
        "trace_id": "abc-1",
        "span_id": trace_events[0]["span_id"],
        "current_traceid": "abc-1",
        "g": "abc-1",
    }


@pytest.mark.parametrize("path", ["/", "/boom", "/missing", "/no/such/route", "/stream"])
def test_context_is_reset_after_the_request(app, path):
    """The test client runs the app in this thread: nothing may be left behind in it."""
    with app.test_client().get(path) as response:
        response.get_data()
    assert traced.current_trace() is None
    assert traced.current_traceid() is None


def test_next_request_on_the_same_thread_gets_a_fresh_id(app):
    client = app.test_client()
    client.get("/boom", headers={"traceid": "first-id"})
    response = client.get("/")
    assert response.json["trace_id"] != "first-id"
    assert response.json["g"] == response.json["trace_id"]


def test_context_is_reset_when_flask_reraises_the_views_error(app):
    app.testing = True
    with pytest.raises(RuntimeError):
        app.test_client().get("/boom", headers={"traceid": "leaky"})
    assert traced.current_trace() is None


def test_nested_request_contexts_restore_the_outer_trace(app, make_app):
    """An app that calls another app in-process (a test, a proxy) gets its trace back."""
    inner = make_app("inner")

    @inner.route("/")
    def inner_index():
        return traced.current_traceid()

    @app.route("/outer")
    def outer():
        inner_id = inner.test_client().get("/", headers={"traceid": "inner-id"}).text
        return {"inner": inner_id, "outer_after": traced.current_traceid()}

    response = app.test_client().get("/outer", headers={"traceid": "outer-id"})
    assert response.json == {"inner": "inner-id", "outer_after": "outer-id"}


def test_bind_carries_the_request_trace_into_an_executor(app, trace_events):
    response = app.test_client().get("/pool")
    assert response.json == {"unbound": None}
    start, bound, end = trace_events
    assert [start["event_des"], bound["event_des"], end["event_des"]] == ["start", "bound", "end"]
    assert (bound["traceid"], bound["span_id"]) == (start["traceid"], start["span_id"])
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3]


def test_apps_own_hooks_run_inside_the_trace(make_app, trace_events):
    app = make_app("svc")
    seen = {}

    @app.before_request
    def before():
        seen["before"] = traced.current_traceid()

    @app.teardown_request
    def teardown(error):
        seen["teardown"] = traced.current_traceid()

    @app.route("/")
    def index():
        return "ok"

    app.test_client().get("/", headers={"traceid": "hooks-1"})
    assert seen == {"before": "hooks-1", "teardown": "hooks-1"}


def test_real_server_keeps_concurrent_requests_apart(make_app, trace_events):
    """Two requests inside the view at once, on a threaded server: two ids, never mixed."""
    app = make_app("svc")
    barrier = threading.Barrier(2, timeout=5)

    @app.route("/<name>")
    def view(name):
        traced.add_event("before-barrier", {"name": name})
        barrier.wait()
        traced.add_event("after-barrier", {"name": name})
        return {"name": name, "traceid": traced.current_traceid(), "g": g.traceid}

    with serve_app(app) as base, ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(requests.get, f"{base}/{name}", timeout=10) for name in "ab"]
        responses = [future.result(timeout=15) for future in futures]

    assert barrier.broken is False
    ids = [response.headers["traceid"] for response in responses]
    assert len(set(ids)) == 2
    for name, response, trace_id in zip("ab", responses, ids):
        assert response.json() == {"name": name, "traceid": trace_id, "g": trace_id}

    by_trace = defaultdict(list)
    for event in trace_events:
        by_trace[event["traceid"]].append(event)
    assert set(by_trace) == set(ids)
    for name, trace_id in zip("ab", ids):
        trace_events = sorted(by_trace[trace_id], key=lambda e: e["trace_index"])
        assert [e["event_des"] for e in trace_events] == [
            "start",
            "before-barrier",
            "after-barrier",
            "end",
        ]
        assert len({e["span_id"] for e in trace_events}) == 1
        assert trace_events[0]["msg_dict"]["path"] == f"/{name}"
        assert {e["msg_dict"]["name"] for e in trace_events[1:3]} == {name}


@pytest.mark.parametrize(
    "worker_ends", ["before-the-response", "after-the-response", "in-the-serving-thread"]
)
def test_a_copied_request_context_in_a_thread_leaves_the_trace_to_its_request(
    make_app, trace_events, worker_ends
):
    """``copy_current_request_context``: the copy's teardown, in a worker thread or in the
    serving thread, is not the end of the request; only the context that opened the
    trace closes it."""
    app = make_app("svc")
    workers: list[threading.Thread] = []
    release = threading.Event()
    seen = {}

    @app.route("/orders", methods=["POST"])
    def create():
        @copy_current_request_context
        def work():
            if worker_ends == "after-the-response":
                release.wait(timeout=5)
            seen["path"] = request.path

        if worker_ends == "in-the-serving-thread":
            work()  # the copy is pushed and popped inside the request itself
            return {"id": 7}, 201
        worker = threading.Thread(target=work)
        workers.append(worker)
        worker.start()
        if worker_ends == "before-the-response":
            worker.join(timeout=5)
            assert not worker.is_alive()
        return {"id": 7}, 201

    response = app.test_client().post("/orders", headers={"traceid": "order-7"})
    after_request = traced.current_trace()
    release.set()
    for worker in workers:
        worker.join(timeout=5)

    assert seen == {"path": "/orders"}
    assert response.status_code == 201
    assert response.headers["traceid"] == "order-7"
    assert after_request is None
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    assert events_of(trace_events, "end")[0]["msg_dict"]["status_code"] == 201
