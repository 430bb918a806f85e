"""Memory: a long-running app does not grow, and nothing of a request outlives it.

Requests go straight into the app's WSGI callable (one environ built once, copied per
request), each making one traced outbound call answered in process (see ``memory_app``).
Under tracemalloc every allocation costs several times more (about 2.4 ms of CPU a
request here, against 0.65 ms without): CI runs 20,000 requests (5,000 of them warm-up,
about 40 s of CPU) with the full run's budget per request, and the full 100,000-request
run, growth under 2 MB, is a ``soak`` test.
"""

from __future__ import annotations

import contextvars
import gc
import io
import logging
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable

import pytest
import requests
from memory_app import CountingJsonHandler, MemoryApp
from werkzeug.test import EnvironBuilder

import traced_http as traced

WARM_UP = 5_000
TRACED_WARM_UP = 1_000
CI_REQUESTS = 20_000
SOAK_REQUESTS = 100_000
GROWTH_LIMIT = 2 * 1024 * 1024
# Events per request of each route: start, end, and one call per outbound call (+ user event).
ROUTE_EVENTS = {"/work": 4, "/own-session": 3, "/fan-out": 4, "/stream": 2, "/fail": 2}


def route_of(n: int) -> str:
    """Mostly ``/work``; every 10th its own session, every 10th a stream, some fan-out/fail."""
    if n % 10 == 3:
        return "/own-session"
    if n % 10 == 7:
        return "/stream"
    if n % 50 == 11:
        return "/fan-out"
    if n % 100 == 51:
        return "/fail"
    return "/work"


class WsgiClient:
    """Calls the app as a WSGI server would: body read to the end, then ``close()``."""

    def __init__(self, memory_app: MemoryApp) -> None:
        self.wsgi_app = memory_app.app.wsgi_app
        self.environs = {
            path: EnvironBuilder(path=path, base_url="http://memory.test").get_environ()
            for path in ROUTE_EVENTS
        }

    def environ(self, n: int) -> dict[str, Any]:
        """Request ``n``'s environ; two in three bring a trace id, the others get one made."""
        environ = dict(self.environs[route_of(n)])
        environ["QUERY_STRING"] = f"n={n}"
        environ["wsgi.input"] = io.BytesIO()
        if n % 3:
            environ["HTTP_TRACEID"] = f"{n + 1:032x}"
        return environ

    def serve(self, n: int) -> tuple[str, bytes]:
        """Status line and body of request ``n``."""
        status: list[str] = []

        def start_response(line: str, headers: Any, exc_info: Any = None) -> None:
            status.append(line)

        result = self.wsgi_app(self.environ(n), start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return status[0], body

    def serve_all(self, numbers: range) -> int:
        """Serve requests ``numbers``; how many events they should have written."""
        events = 0
        for n in numbers:
            route = route_of(n)
            line, _ = self.serve(n)
            expected = "500" if route == "/fail" else "200"
            assert line.startswith(expected), f"request {n} ({route}): {line}"
            events += ROUTE_EVENTS[route]
        return events


@pytest.fixture
def memory_app() -> Iterator[MemoryApp]:
    app = MemoryApp()
    try:
        yield app
    finally:
        app.close()


@contextmanager
def only_counting_events() -> Iterator[CountingJsonHandler]:
    """Events go to one handler that formats each into its JSON line and keeps none.

    Entered inside the test body: pytest (9+) attaches its log capture, which keeps every
    record, to non-propagating loggers when a test phase starts; this takes it off.
    """
    logger = logging.getLogger("traced_http")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    handler = CountingJsonHandler()
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.handlers, logger.propagate = saved[0], saved[1]
        logger.setLevel(saved[2])


def check_memory_growth(memory_app: MemoryApp, count: int, record: Callable[..., None]) -> None:
    """Warm up, then serve the rest under tracemalloc; record the figures, then judge them."""
    with only_counting_events() as events:
        _check_memory_growth(WsgiClient(memory_app), events, count, record)


def _check_memory_growth(
    client: WsgiClient, events: CountingJsonHandler, count: int, record: Callable[..., None]
) -> None:
    expected_events = client.serve_all(range(WARM_UP - TRACED_WARM_UP))
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        # The last of the warm-up runs traced: bounded caches (urllib's, the re module's)
        # that keep replacing entries then churn traced entries on both sides of the
        # baseline, instead of looking like growth.
        expected_events += client.serve_all(range(WARM_UP - TRACED_WARM_UP, WARM_UP))
        gc.collect()
        before = tracemalloc.take_snapshot()
        baseline = tracemalloc.get_traced_memory()[0]
        started = time.monotonic()
        expected_events += client.serve_all(range(WARM_UP, count))
        seconds = time.monotonic() - started
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - baseline
        top = tracemalloc.take_snapshot().compare_to(before, "lineno")[:10]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    limit = growth_limit(count - WARM_UP)
    figures = {
        "requests": count,
        "warm-up": WARM_UP,
        "events": events.lines,
        "growth_bytes": growth,
        "limit_bytes": limit,
        "traced_seconds": round(seconds, 1),
    }
    record(f"memory x{count}", figures)
    assert events.lines == expected_events, "every event was formatted into a line"
    assert growth < limit, f"grew {growth} bytes (limit {limit}); largest growth:\n" + "\n".join(
        map(str, top)
    )


def growth_limit(measured: int) -> int:
    """2 MB over the 95,000 requests after warm-up of the full run; the same per request
    for a shorter run (a leak of 22 bytes a request fails both)."""
    return GROWTH_LIMIT * measured // (SOAK_REQUESTS - WARM_UP)


def test_memory_stays_flat_over_many_requests(
    memory_app: MemoryApp, record_run: Callable[..., None]
) -> None:
    check_memory_growth(memory_app, CI_REQUESTS, record_run)


@pytest.mark.soak
def test_soak_memory_stays_flat_over_many_requests(
    memory_app: MemoryApp, record_run: Callable[..., None]
) -> None:
    check_memory_growth(memory_app, SOAK_REQUESTS, record_run)


def live_objects() -> Counter[str]:
    """Live objects of traced-http and its Flask hooks by type, with sessions and ctx tokens.

    ``TraceContext`` and the per-request span hold no ``__weakref__`` slot, so they are
    counted through the garbage collector rather than watched with weak references.
    """
    gc.collect()
    counts: Counter[str] = Counter()
    for obj in gc.get_objects():
        kind = type(obj)
        module = getattr(kind, "__module__", None)
        if not isinstance(module, str):
            continue
        if module.startswith(("traced_http", "flask_hooks")) or isinstance(
            obj, (requests.Session, contextvars.Token)
        ):
            counts[f"{module}.{kind.__qualname__}"] += 1
    return counts


def test_no_context_span_or_session_outlives_its_request(memory_app: MemoryApp) -> None:
    with only_counting_events():
        check_lifetimes(memory_app)


def check_lifetimes(memory_app: MemoryApp) -> None:
    """Requests served by a pool of threads that stay alive, as a threaded server's do."""
    client = WsgiClient(memory_app)
    threads = 4
    with ThreadPoolExecutor(threads, thread_name_prefix="server") as servers:
        # Warm-up: whatever is made once (pool threads, merged settings) exists before.
        list(servers.map(client.serve, range(100)))
        before = live_objects()
        memory_app.track = True
        numbers = range(100, 600)
        answers = list(servers.map(client.serve, numbers))
        memory_app.session.get("http://downstream.test/outside")  # a root call, no request
        memory_app.track = False
        # Idle server threads hold no trace: each of them answers at once (the barrier).
        barrier = threading.Barrier(threads, timeout=10)

        def idle_trace() -> Any:
            barrier.wait()
            return traced.current_trace()

        idle = [servers.submit(idle_trace) for _ in range(threads)]
        assert [future.result(timeout=10) for future in idle] == [None] * threads
        alive = live_objects() - before  # server threads still alive, as in a real server
    assert traced.current_trace() is None
    routes = Counter(map(route_of, numbers))
    assert sum(line.startswith("200") for line, _ in answers) == len(numbers) - routes["/fail"]
    assert len(memory_app.per_request) == routes["/work"] + routes["/own-session"]
    assert [ref for ref in memory_app.per_request if ref() is not None] == []
    assert alive == Counter(), f"objects that outlived their requests: {dict(alive)}"
