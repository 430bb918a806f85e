"""Part 4: how traced-http's overhead scales with body size and header count, and memory.

Bodies past the capture limit (2 KiB by default) must not cost more than small ones:
the hooks read at most the limit and never parse or copy the rest. Memory is measured
with tracemalloc over many requests after a warm-up: whatever is still allocated after
a full collection at the end, and was not at the half-way point, is growth.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Sequence
from typing import Any

from flask import Flask

from benchmarks.apps import create_app, json_blob
from benchmarks.config import Settings
from benchmarks.harness import Case, Timing, WsgiCall, run_interleaved
from benchmarks.report import Table, Target, ratio, us

SIZES = {"1 KB": 1_000, "100 KB": 100_000, "10 MB": 10_000_000}
HEADER_COUNTS = (0, 10, 100)
MEMORY_GROWTH_LIMIT = 64 * 1024  # bytes over the second half of the run


def _overhead_row(label: str, timings: dict[str, Timing]) -> tuple[list[str], float]:
    bare, traced = timings["bare"], timings["traced"]
    extra = traced.minus(bare)
    row = [label, us(bare.median), us(traced.median), us(extra.median), f"±{extra.spread:.1f}"]
    return row, extra.median


def _compare(
    bare: WsgiCall, traced: WsgiCall, settings: Settings, repeats: int
) -> dict[str, Timing]:
    cases = [Case("bare", bare), Case("traced", traced)]
    return run_interleaved(cases, repeats=repeats, batch_seconds=settings.batch_seconds)


def run(settings: Settings) -> tuple[list[Table], list[Target]]:
    try:
        traced_app = create_app("traced")
    except (ImportError, AttributeError) as exc:
        table = Table("Scaling of traced-http's overhead", ["case"])
        table.notes.append(f"not measured: traced-http: {type(exc).__name__}: {exc}")
        return [table], [
            Target("10 MB request body overhead within 1.2 × of 1 KB", "n/a", None),
            Target("10 MB response body overhead within 1.2 × of 1 KB", "n/a", None),
            Target("no memory growth after warm-up", "n/a", None),
        ]
    bare_app = create_app("bare")
    sizes = Table(
        "Scaling: traced-http (default) overhead (CPU µs) by body size and header count",
        ["case", "bare µs", "traced µs", "overhead µs", "noise µs"],
    )

    def measure(label: str, repeats: int, method: str, path: str, **request: Any) -> float:
        """Add the row of one request made to the bare and the traced app; its overhead."""
        bare, traced = (WsgiCall(app, method, path, **request) for app in (bare_app, traced_app))
        row, added = _overhead_row(label, _compare(bare, traced, settings, repeats))
        sizes.rows.append(row)
        return added

    overhead: dict[str, float] = {}
    # Per body size: (overhead key, request line, what the size is of, sent in the request?)
    for key, line, sized, sent in (
        ("request", "POST /ingest", "JSON request body", True),
        ("unread request", "POST /discard", "JSON request body the view never reads", True),
        ("response", "GET /blob", "JSON response body", False),
    ):
        method, path = line.split()
        for label, size in SIZES.items():
            request: dict[str, Any] = (
                {"data": json_blob(size), "content_type": "application/json"}
                if sent
                else {"query": {"size": str(size)}}
            )
            overhead[f"{key} {label}"] = measure(
                f"{line}, {label} {sized}", settings.big_body_repeats, method, path, **request
            )
    for count in HEADER_COUNTS:
        headers = {f"X-Bench-{i}": f"value-{i}" for i in range(count)}
        measure(
            f"GET /hello with {count} extra request headers",
            settings.repeats,
            "GET",
            "/hello",
            query={"name": "bench"},
            headers=headers,
        )
    sizes.notes.append(
        "overhead = median of round-by-round differences, noise = half their interquartile "
        "range; /ingest reads the whole body, as a real view would, so its rows include "
        "what the hooks change in how the view reads it; /discard leaves the body "
        "unread, so its rows show the hooks' own cost; /blob returns a prebuilt body"
    )
    memory, memory_target = _memory(traced_app, settings.memory_requests, settings.memory_seconds)
    return [sizes, memory], [*_size_targets(overhead), memory_target]


def _size_targets(overhead: dict[str, float]) -> list[Target]:
    targets = []
    for side in ("request", "unread request", "response"):
        small, big = overhead[f"{side} 1 KB"], overhead[f"{side} 10 MB"]
        targets.append(
            Target(
                f"10 MB {side} body overhead within 1.2 × of 1 KB",
                f"{us(big)} µs vs {us(small)} µs ({ratio(big / small) if small > 0 else 'n/a'} ×)",
                big <= 1.2 * small if small > 0 else big <= 0,
            )
        )
    return targets


def _memory(app: Flask, requests: int, seconds: float) -> tuple[Table, Target]:
    calls = [
        WsgiCall(app, "GET", "/hello", query={"name": "bench"}),
        WsgiCall(app, "POST", "/echo", json={"name": "bench"}),
    ]
    _drive(calls, 1000)
    gc.collect()
    tracemalloc.start()
    try:
        # tracemalloc slows every allocation down: fit the run into the time budget
        probe = time.perf_counter()
        _drive(calls, 200)
        per_round = (time.perf_counter() - probe) / 200
        wanted, affordable = requests // 2 // len(calls), int(seconds / 2 / per_round)
        half = max(1, min(wanted, affordable))
        start = _settled_size()
        _drive(calls, half)
        # the snapshot is taken before the middle size, so both sizes hold it
        middle_snapshot = tracemalloc.take_snapshot()
        middle = _settled_size()
        _drive(calls, half)
        end = _settled_size()
        end_snapshot = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    served = 2 * half * len(calls)
    second_half = end - middle
    shortened = f" (cut from {requests:,} to fit {seconds:g} s)" if affordable < wanted else ""
    table = Table(
        f"Memory: traced-http (default), {served:,} requests after warm-up, "
        f"under tracemalloc{shortened}",
        ["measure", "bytes"],
    )
    table.rows = [
        ["growth over the whole run", f"{end - start:,}"],
        ["growth over the second half", f"{second_half:,}"],
        ["growth per request, second half", f"{second_half / (served / 2):.2f}"],
    ]
    if second_half > MEMORY_GROWTH_LIMIT:
        table.notes.extend(
            f"grew: {stat}" for stat in _top_growth(middle_snapshot, end_snapshot, limit=5)
        )
    target = Target(
        "no memory growth after warm-up (second half ≤ 64 KiB)",
        f"{second_half:,} bytes over {served // 2:,} requests",
        second_half <= MEMORY_GROWTH_LIMIT,
    )
    return table, target


def _drive(calls: Sequence[WsgiCall], rounds: int) -> None:
    for _ in range(rounds):
        for call in calls:
            call()


def _settled_size() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def _top_growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, limit: int) -> list[str]:
    stats = after.compare_to(before, "lineno")
    return [str(stat) for stat in stats[:limit] if stat.size_diff > 0]
