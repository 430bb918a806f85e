"""The trace context: ids, the active trace, and carrying it into other threads."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import traced_http as traced
from traced_http.context import activate, deactivate
from traced_http.ids import new_span_id, new_trace_id
from traced_http.propagation import Incoming

HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


def test_trace_ids_are_32_lowercase_hex_and_unique():
    ids = [new_trace_id() for _ in range(1000)]
    assert all(HEX32.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_span_ids_are_16_lowercase_hex_and_unique():
    ids = [new_span_id() for _ in range(1000)]
    assert all(HEX16.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_trace_context_holds_ids_and_numbers_events_from_one():
    ctx = traced.TraceContext(
        trace_id="t" * 32,
        span_id="s" * 16,
        parent_id="p" * 16,
        settings=traced.TraceSettings(service="orders"),
    )
    assert (ctx.trace_id, ctx.span_id, ctx.parent_id, ctx.service) == (
        "t" * 32,
        "s" * 16,
        "p" * 16,
        "orders",
    )
    assert [ctx.next_index() for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("settings_service", "env", "named"),
    [
        ("orders", "from-env", "orders"),
        (None, "from-env", "from-env"),
        (None, None, "python"),
    ],
    ids=["settings", "OTEL_SERVICE_NAME", "default"],
)
def test_trace_context_names_the_service_of_its_settings(monkeypatch, settings_service, env, named):
    if env is None:
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("OTEL_SERVICE_NAME", env)
    settings = traced.TraceSettings(service=settings_service)

    ctx = traced.TraceContext(trace_id="t" * 32, span_id="s" * 16, settings=settings)

    assert (ctx.service, ctx.settings) == (named, settings)


def test_a_context_continuing_an_incoming_trace_is_the_one_built_by_keywords():
    settings = traced.TraceSettings(service="orders")
    incoming = Incoming("t" * 32, "p" * 16, "00", "k=v", "traceparent", ())

    ctx = traced.TraceContext.continuing(incoming, "s" * 16, settings)

    built = traced.TraceContext(
        trace_id="t" * 32,
        span_id="s" * 16,
        parent_id="p" * 16,
        flags="00",
        tracestate="k=v",
        settings=settings,
    )
    fields = ("trace_id", "span_id", "parent_id", "flags", "tracestate", "settings", "service")
    assert [getattr(ctx, f) for f in fields] == [getattr(built, f) for f in fields]
    assert ctx.next_index() == built.next_index() == 1


def test_trace_index_is_unique_across_threads():
    ctx = traced.TraceContext(trace_id="t" * 32, span_id="s" * 16)
    with ThreadPoolExecutor(8) as pool:
        indexes = list(pool.map(lambda _: ctx.next_index(), range(2000)))
    assert sorted(indexes) == list(range(1, 2001))


def test_nothing_is_active_outside_a_trace():
    assert traced.current_trace() is None
    assert traced.current_traceid() is None


def test_active_trace_is_visible_and_reset_after(active):
    assert traced.current_trace() is active
    assert traced.current_traceid() == "a" * 32


def test_deactivate_restores_the_outer_trace(active):
    inner = traced.TraceContext(trace_id="d" * 32, span_id="e" * 16)
    token = activate(inner)
    assert traced.current_traceid() == "d" * 32
    deactivate(token)
    assert traced.current_trace() is active


def test_plain_thread_does_not_inherit_the_trace(active):
    seen = []
    thread = threading.Thread(target=lambda: seen.append(traced.current_traceid()))
    thread.start()
    thread.join(timeout=5)
    assert seen == [None]


def test_bind_carries_the_trace_into_an_executor(active):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(traced.bind(lambda n: (n, traced.current_traceid())), range(4)))
    assert results == [(n, "a" * 32) for n in range(4)]


def test_bind_leaves_the_worker_thread_clean_afterwards(active):
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(traced.bind(traced.current_traceid)).result(timeout=5) == "a" * 32
        assert pool.submit(traced.current_traceid).result(timeout=5) is None


def test_bind_resets_even_when_the_function_raises(active):
    def fail():
        raise ValueError("boom")

    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ValueError):
            pool.submit(traced.bind(fail)).result(timeout=5)
        assert pool.submit(traced.current_traceid).result(timeout=5) is None


def test_bind_captures_the_trace_at_bind_time_not_call_time(active):
    bound = traced.bind(traced.current_traceid)
    other = activate(traced.TraceContext(trace_id="f" * 32, span_id="1" * 16))
    try:
        assert bound() == "a" * 32
    finally:
        deactivate(other)


def test_bind_keeps_the_function_name():
    def work():
        return None

    assert traced.bind(work).__name__ == "work"
