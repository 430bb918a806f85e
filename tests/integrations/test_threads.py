"""Work handed to other threads and greenlets stays in the request's trace.

A real Flask service on 127.0.0.1 hands work to a thread pool, a thread, asyncio's
executors or a gevent pool; the work adds an event and calls a second real service.
Its events and calls belong to the request's span, and the next request's work sees
the next request's trace, never the previous one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any, Callable

import gevent.pool
import pytest
import requests
from flask import jsonify

import traced_http as traced
from traced_http.testing import assert_single_trace, events_of, serve_app

# One worker: the second request's work runs on the very thread the first one used.
POOL = traced.ThreadPoolExecutor(max_workers=1)


def in_pool_submit(work: Callable[[], str]) -> str:
    return POOL.submit(work).result(timeout=10)


def in_pool_map(work: Callable[[], str]) -> str:
    (result,) = POOL.map(lambda _: work(), [None], timeout=10)
    return result


def in_thread(work: Callable[[], str]) -> str:
    results: list[str] = []
    thread = threading.Thread(target=traced.bind(lambda: results.append(work())))
    thread.start()
    thread.join(timeout=10)
    return results[0]


def in_to_thread(work: Callable[[], str]) -> str:
    async def main() -> str:
        return await asyncio.to_thread(work)  # copies the context by itself

    return asyncio.run(main())


def in_run_in_executor(work: Callable[[], str]) -> str:
    async def main() -> str:
        return await asyncio.get_running_loop().run_in_executor(None, traced.bind(work))

    return asyncio.run(main())


def in_gevent_pool(work: Callable[[], str]) -> str:
    pool = gevent.pool.Pool(2)
    return str(pool.spawn(traced.bind(work)).get(timeout=10))


SHAPES = {
    "ThreadPoolExecutor.submit": in_pool_submit,
    "ThreadPoolExecutor.map": in_pool_map,
    "threading.Thread + bind": in_thread,
    "asyncio.to_thread": in_to_thread,
    "run_in_executor + bind": in_run_in_executor,
    "gevent Pool + bind": in_gevent_pool,
}


@pytest.fixture
def service(make_app: Callable[..., Any]) -> Iterator[str]:
    billing = make_app("billing")

    @billing.route("/charge")
    def charge() -> Any:
        return jsonify(ok=True)

    orders = make_app("orders")
    with serve_app(billing) as billing_url:

        @orders.route("/work/<shape>")
        def work(shape: str) -> Any:
            def job() -> str:
                traced.add_event("work", {"shape": shape})
                traced.get(billing_url + "/charge")
                return traced.current_traceid() or "none"

            return jsonify(seen=SHAPES[shape](job))

        with serve_app(orders) as url:
            yield url


@pytest.mark.parametrize("shape", list(SHAPES))
def test_work_runs_in_the_request_trace(service, trace_events, shape):
    response = requests.get(f"{service}/work/{shape}", timeout=10)

    assert response.status_code == 200
    trace_id = assert_single_trace(trace_events)
    assert response.json()["seen"] == trace_id
    (start,) = events_of(trace_events, "start", service="orders")
    (work,) = events_of(trace_events, "work")
    (call,) = events_of(trace_events, "call", service="orders")
    (billing,) = events_of(trace_events, "start", service="billing")
    assert work["span_id"] == start["span_id"]
    assert work["msg_dict"] == {"shape": shape}
    assert call["parent_id"] == start["span_id"]
    assert billing["parent_id"] == call["span_id"]
    assert [e["trace_index"] for e in trace_events if e["service"] == "orders"] == [1, 2, 3, 4]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_nothing_leaks_into_the_next_request(service, trace_events, shape):
    first = requests.get(f"{service}/work/{shape}", timeout=10)
    second = requests.get(f"{service}/work/{shape}", timeout=10)

    assert first.json()["seen"] == first.headers["traceid"]
    assert second.json()["seen"] == second.headers["traceid"]
    assert first.headers["traceid"] != second.headers["traceid"]
    assert len({e["traceid"] for e in trace_events}) == 2


def test_pool_thread_is_back_to_no_trace_after_the_work(service):
    requests.get(f"{service}/work/ThreadPoolExecutor.submit", timeout=10)

    # The plain executor's submit, with no binding: what the pool thread itself holds.
    unbound = concurrent.futures.ThreadPoolExecutor.submit(POOL, traced.current_trace)
    assert unbound.result(timeout=10) is None


def test_work_submitted_outside_any_trace_has_none():
    assert POOL.submit(traced.current_trace).result(timeout=10) is None
    with traced.trace("job") as ctx:
        assert POOL.submit(traced.current_trace).result(timeout=10) is ctx
