"""Traces outside a Flask request: a call on its own, ``traced.trace()`` blocks, ``bind``,
and many threads each in their own trace at once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
from clients import adapter_session
from flask import Flask, jsonify, request

import traced_http as traced
from traced_http.propagation import w3c_trace_id
from traced_http.testing import events_of, serve_app

URL = "http://api.example/x"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


CLIENTS: dict[str, Callable[[], Any]] = {
    "traced.get": lambda: traced,
    "TracedSession": traced.TracedSession,
    "TracingAdapter": adapter_session,
}


@pytest.fixture
def rsps(traced_responses: Any) -> Any:
    """The kit's ``traced_responses``, with this module's routes."""
    traced_responses.add("GET", URL, json={"ok": True})
    traced_responses.add("GET", "http://api.example/moved", status=302, headers={"Location": URL})
    return traced_responses


# --- a call outside any trace ----------------------------------------------------------


@pytest.mark.parametrize("client_name", list(CLIENTS))
def test_a_call_outside_any_trace_is_a_root_with_a_fresh_id_each_time(
    rsps, trace_events, client_name
):
    client = CLIENTS[client_name]()

    client.get(URL)
    client.get(URL)

    calls = events_of(trace_events, "call")
    assert len(calls) == 2
    for call, sent in zip(calls, rsps.calls):
        assert call["parent_id"] is None
        assert call["trace_index"] == 1
        assert len(call["traceid"]) == 32
        assert sent.request.headers["traceid"] == call["traceid"]
        assert sent.request.headers["traceparent"] == (f"00-{call['traceid']}-{call['span_id']}-01")
    assert calls[0]["traceid"] != calls[1]["traceid"]
    assert traced.current_trace() is None


@pytest.mark.parametrize(
    "client_name",
    [
        "traced.get",
        "TracedSession",
        pytest.param(
            "TracingAdapter",
            marks=pytest.mark.xfail(
                strict=True,
                reason="outside any trace, a plain Session's redirect hop gets a new root "
                "trace in its call event while it still sends the first hop's headers",
            ),
        ),
    ],
)
def test_a_redirected_call_outside_any_trace_is_one_trace(rsps, trace_events, client_name):
    CLIENTS[client_name]().get("http://api.example/moved")

    first, second = events_of(trace_events, "call")
    assert first["parent_id"] is None
    assert first["trace_index"] == 1
    assert second["traceid"] == first["traceid"]
    assert second["span_id"] != first["span_id"]
    assert [c.request.headers["traceparent"] for c in rsps.calls] == [
        f"00-{first['traceid']}-{first['span_id']}-01",
        f"00-{first['traceid']}-{second['span_id']}-01",
    ]


# --- traced.trace() -------------------------------------------------------------------


def test_trace_block_writes_start_and_end_and_calls_inside_are_children(rsps, trace_events):
    with traced.trace("nightly-export") as ctx:
        assert traced.current_trace() is ctx
        assert traced.current_traceid() == ctx.trace_id
        traced.get(URL)
        traced.TracedSession().get(URL)

    assert traced.current_trace() is None
    assert [e["event_des"] for e in trace_events] == ["start", "call", "call", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3, 4]
    assert {e["traceid"] for e in trace_events} == {ctx.trace_id}
    start, call1, call2, end = trace_events
    assert start["span_id"] == end["span_id"] == ctx.span_id
    assert start["parent_id"] is None
    assert start["msg_dict"]["name"] == end["msg_dict"]["name"] == "nightly-export"
    assert start["msg_dict"]["id_source"] == "generated"
    assert "error" not in end["msg_dict"]
    assert end["msg_dict"]["cost_time"] >= 0
    assert call1["parent_id"] == call2["parent_id"] == ctx.span_id
    assert len({ctx.span_id, call1["span_id"], call2["span_id"]}) == 3


@pytest.mark.parametrize(
    ("given", "trace_id", "parent_id", "source"),
    [
        ("order-42", "order-42", None, "traceid"),
        (f"  {TRACE_ID}\t", TRACE_ID, None, "traceid"),
        (f"00-{TRACE_ID}-{PARENT_SPAN}-01", TRACE_ID, PARENT_SPAN, "traceparent"),
    ],
    ids=["plain", "hex", "traceparent"],
)
def test_trace_block_continues_a_given_id(rsps, trace_events, given, trace_id, parent_id, source):
    with traced.trace("job", traceid=given) as ctx:
        traced.get(URL)

    assert ctx.trace_id == trace_id
    start = events_of(trace_events, "start")[0]
    assert start["parent_id"] == parent_id
    assert start["msg_dict"]["id_source"] == source
    assert {e["traceid"] for e in trace_events} == {trace_id}
    headers = rsps.calls[0].request.headers
    assert headers["traceid"] == trace_id
    assert headers["traceparent"].split("-")[1] == w3c_trace_id(trace_id)


@pytest.mark.parametrize(
    "given",
    ["two words", "a,b", "x" * 129, "", "id\r\nX-Injected: 1", "é"],
)
def test_trace_block_with_an_invalid_id_gets_a_fresh_one_and_says_so(trace_events, given):
    with traced.trace("job", traceid=given) as ctx:
        pass

    assert len(ctx.trace_id) == 32
    assert ctx.trace_id != given
    start = events_of(trace_events, "start")[0]
    assert start["msg_dict"]["id_source"] == "generated"
    assert start["msg_dict"]["rejected_headers"] == ["traceid"]
    if given.strip():
        assert given not in json.dumps(trace_events, ensure_ascii=False)


def test_exception_in_a_trace_block_ends_it_with_the_error_and_propagates(trace_events):
    with pytest.raises(KeyError, match="missing"), traced.trace("job") as ctx:
        raise KeyError("missing")

    assert traced.current_trace() is None
    end = events_of(trace_events, "end")[0]
    assert end["span_id"] == ctx.span_id
    assert end["msg_dict"]["error"] == {"type": "KeyError", "message": "'missing'"}


def test_nested_trace_blocks_restore_the_outer_one():
    with traced.trace("outer") as outer:
        with traced.trace("inner") as inner:
            assert traced.current_trace() is inner
        assert traced.current_trace() is outer


# --- bind -----------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [True, False], ids=["bind", "no-bind"])
def test_bind_carries_the_request_trace_into_an_executor(rsps, trace_events, make_app, bound):
    app = make_app("gateway")

    def work(n: int) -> str | None:
        traced.get(URL, params={"n": n})
        return traced.current_traceid()

    @app.route("/")
    def view() -> Any:
        task = traced.bind(work) if bound else work
        with ThreadPoolExecutor(max_workers=2) as pool:
            seen = list(pool.map(task, [1, 2]))
        return jsonify(seen=seen)

    seen = app.test_client().get("/").json["seen"]

    (start,) = events_of(trace_events, "start")
    calls = events_of(trace_events, "call")
    assert len(calls) == 2
    if bound:
        assert seen == [start["traceid"]] * 2
        assert {c["traceid"] for c in calls} == {start["traceid"]}
        assert {c["parent_id"] for c in calls} == {start["span_id"]}
        assert {c.request.headers["traceid"] for c in rsps.calls} == {start["traceid"]}
    else:
        assert seen == [None, None]
        assert {c["parent_id"] for c in calls} == {None}
        assert start["traceid"] not in {c["traceid"] for c in calls}
    assert traced.current_trace() is None


def test_bind_outside_a_trace_gives_no_trace_and_leaves_the_thread_clean():
    bound = traced.bind(traced.current_trace)

    with traced.trace("job"):
        assert bound() is None
        assert traced.current_trace() is not None


# --- many threads at once --------------------------------------------------------------

THREADS = 32


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    """Answers with the trace headers it received; traces its own requests too."""
    from flask_hooks import Tracing

    app = Flask("echo")
    Tracing(app)

    @app.route("/echo")
    def echo() -> Any:
        return jsonify(
            traceid=request.headers.get("traceid"),
            traceparent=request.headers.get("traceparent"),
            n=request.args["n"],
        )

    with serve_app(app) as url:
        yield url


def test_threads_each_in_their_own_trace_send_and_log_only_their_own_id(trace_events, echo_server):
    barrier = threading.Barrier(THREADS, timeout=20)
    results: dict[int, tuple[str, dict[str, Any]]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            with traced.trace(f"job-{n}") as ctx:
                barrier.wait()
                answer = traced.get(f"{echo_server}/echo", params={"n": n}).json()
                results[n] = (ctx.trace_id, answer)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == THREADS
    assert len({trace_id for trace_id, _ in results.values()}) == THREADS
    calls = {e["traceid"]: e for e in events_of(trace_events, "call")}
    server_starts = {e["traceid"]: e for e in events_of(trace_events, "start", service="echo")}
    for n, (trace_id, answer) in results.items():
        assert answer["n"] == str(n)
        call = calls[trace_id]
        assert call["msg_dict"]["url"].endswith(f"/echo?n={n}")
        assert answer["traceid"] == trace_id
        assert answer["traceparent"] == f"00-{trace_id}-{call['span_id']}-01"
        assert server_starts[trace_id]["parent_id"] == call["span_id"]
    for trace_id, _ in results.values():
        mine = [e for e in trace_events if e["traceid"] == trace_id]
        assert sorted(e["event_des"] for e in mine) == ["call", "end", "end", "start", "start"]
