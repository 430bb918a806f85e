"""Added CPU per Celery task, send + execute: traced-http against Celery alone and OpenTelemetry.

python -m benchmarks.celery_tasks            # 25 rounds of 300 tasks per variant, ~2 minutes
python -m benchmarks.celery_tasks --quick    # smoke run, not for numbers

A real Redis (Debian's ``redis-server``, on 127.0.0.1, no persistence) and three real
``celery worker`` processes (solo pool), one per variant, each on its own queue and
instrumented its own way. This process sends the tasks: its CPU time around the sends is
the send cost; the worker's CPU time (all its threads, from /proc) across the batch is
the execute cost. Variants run interleaved, round by round; each reports its medians, and
what it adds is the median of its per-round differences from plain Celery.
The task does nothing, so what differs between variants is the instrumentation.

This module is also the workers' Celery app (``celery -A benchmarks.celery_tasks``): the
variant a worker runs is given by ``BENCH_CELERY_MODE``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import Celery

import traced_http as traced
from benchmarks.redis_server import MISSING, private_redis
from benchmarks.report import publish
from traced_http.celery import instrument

MODES = ("celery", "traced-http", "traced-http-quiet", "opentelemetry")
QUIET = "traced-http-quiet"  # headers and contexts, but no event lines: what the lines cost
ROOT = Path(__file__).resolve().parent.parent

app = Celery("bench", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(
    result_backend=app.conf.broker_url,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=16,
)


@app.task(name="bench.noop")
def noop(number: int) -> int:
    return number


def _otel_provider() -> Any:
    from benchmarks.apps import otel_tracer_provider

    provider, _exporter = otel_tracer_provider()
    return provider


def _instrument_worker(mode: str) -> None:
    """The worker side of a variant: events formatted and dropped, or spans kept in memory."""
    if mode in ("traced-http", QUIET):
        from benchmarks.harness import discard_logger

        instrument(app, service="bench-worker")
        discard_logger("traced_http", traced.JsonFormatter())
        if mode == QUIET:
            logging.getLogger("traced_http").setLevel(logging.WARNING)
    elif mode == "opentelemetry":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument(tracer_provider=_otel_provider())


if os.environ.get("BENCH_CELERY_MODE"):
    _instrument_worker(os.environ["BENCH_CELERY_MODE"])


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        sys.exit(MISSING)
    with tempfile.TemporaryDirectory() as workdir, private_redis(Path(workdir)) as url:
        yield url


def _cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process so far, in seconds (Linux schedstat, ns)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


@contextlib.contextmanager
def _workers(broker: str) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for mode in MODES:
            env = {**os.environ, "BENCH_BROKER": broker, "BENCH_CELERY_MODE": mode}
            procs[mode] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "benchmarks.celery_tasks",
                    "worker",
                    "--pool",
                    "solo",
                    "--queues",
                    f"bench-{mode}",
                    "--hostname",
                    f"{mode}@bench",
                    "--loglevel",
                    "ERROR",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        names = [f"{mode}@bench" for mode in MODES]
        _wait(
            lambda: len(app.control.ping(destination=names, timeout=0.5)) == len(names),
            60,
            "the workers",
        )
        yield procs
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def _sender(mode: str) -> Iterator[None]:
    """The send side of a variant, around a batch: sent from inside a trace, as from a request."""
    if mode == "traced-http":
        with traced.trace("bench"):
            yield
    elif mode == QUIET:
        events = logging.getLogger("traced_http")
        events.setLevel(logging.WARNING)
        try:
            with traced.trace("bench"):
                yield
        finally:
            events.setLevel(logging.INFO)
    elif mode == "opentelemetry":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        provider = _otel_provider()
        CeleryInstrumentor().instrument(tracer_provider=provider)
        try:
            with provider.get_tracer("bench").start_as_current_span("bench"):
                yield
        finally:
            CeleryInstrumentor().uninstrument()
    else:
        yield


def _batch(mode: str, worker: int, tasks: int) -> tuple[float, float]:
    """Send ``tasks`` tasks and wait for the worker to run them: (send, execute) CPU s."""
    queue = f"bench-{mode}"
    worker_before = _cpu_seconds(worker)
    with _sender(mode):
        start = time.process_time()
        for number in range(tasks - 1):
            noop.apply_async((number,), queue=queue, ignore_result=True)
        last = noop.apply_async((tasks,), queue=queue)
        send = time.process_time() - start
    last.get(timeout=120)  # the solo pool runs its queue in order: the rest are done too
    return send, _cpu_seconds(worker) - worker_before


def run(rounds: int, tasks: int) -> str:
    """Measure every variant; return the report as Markdown."""
    from benchmarks.harness import discard_logger

    discard_logger("traced_http", traced.JsonFormatter())  # publish events: formatted, dropped
    instrument(app)  # the send side; it acts only on sends made inside a trace
    send: dict[str, list[float]] = {mode: [] for mode in MODES}
    execute: dict[str, list[float]] = {mode: [] for mode in MODES}
    with _redis() as broker:
        app.conf.update(broker_url=broker, result_backend=broker)
        with _workers(broker) as procs:
            for mode in MODES:  # warm-up: imports, connections, first-use caches
                _batch(mode, procs[mode].pid, min(tasks, 200))
            for index in range(rounds):
                shift = index % len(MODES)
                for mode in MODES[shift:] + MODES[:shift]:
                    sent, ran = _batch(mode, procs[mode].pid, tasks)
                    send[mode].append(sent / tasks * 1e6)
                    execute[mode].append(ran / tasks * 1e6)
    return _report(send, execute, rounds, tasks)


def _report(
    send: dict[str, list[float]], execute: dict[str, list[float]], rounds: int, tasks: int
) -> str:
    """Medians per variant; what a variant adds is the median of its per-round differences
    from plain Celery (the rounds are interleaved, so a round's neighbours load all alike)."""
    from benchmarks.report import load_average, machine_lines

    total = {m: [s + e for s, e in zip(send[m], execute[m])] for m in MODES}
    diffs = {m: [t - base for t, base in zip(total[m], total["celery"])] for m in MODES}
    added = {m: statistics.median(diffs[m]) for m in MODES}

    def spread(mode: str) -> str:
        if mode == "celery" or len(diffs[mode]) < 4:
            return ""
        low, _, high = statistics.quantiles(diffs[mode], n=4)
        return f" ({low:+.0f} to {high:+.0f})"

    lines = [
        "## Celery: CPU per task, send + execute",
        "",
        "Command: `python -m benchmarks.celery_tasks`",
        "",
        *machine_lines(),
        f"- celery {_version('celery')}, opentelemetry-instrumentation-celery "
        f"{_version('opentelemetry-instrumentation-celery')}; load average (1 min) at end "
        f"{load_average()}",
        f"- {rounds} interleaved rounds of {tasks:,} tasks per variant; real Redis, solo-pool "
        "workers; CPU of the sending process and of the worker; medians",
        "",
        "| variant | send µs | execute µs | total µs | added µs (middle half of rounds) |",
        "|---|---|---|---|---|",
    ]
    for mode in MODES:
        lines.append(
            f"| {mode} | {statistics.median(send[mode]):.1f} | "
            f"{statistics.median(execute[mode]):.1f} | {statistics.median(total[mode]):.1f} | "
            f"{added[mode]:+.1f}{spread(mode)} |"
        )
    share = added["traced-http"] / added["opentelemetry"] if added["opentelemetry"] > 0 else None
    verdict = "n/a" if share is None else ("PASS" if share < 0.5 else "FAIL")
    shown = "n/a" if share is None else f"{share:.2f} ×"
    lines += [
        "",
        f"`{QUIET}`: instrumented, sends from inside a trace, but the `traced_http` logger is "
        "off, so no event line is built: the cost of propagation alone.",
        "",
        f"Target: traced-http adds under 0.5 × OpenTelemetry's: {shown} → {verdict}",
    ]
    return "\n".join(lines) + "\n"


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.celery_tasks")
    parser.add_argument("--quick", action="store_true", help="smoke run, not for numbers")
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--tasks", type=int, default=300, help="tasks per batch")
    parser.add_argument(
        "--save", action="store_true", help="update the tracked benchmarks/results/celery_tasks.md"
    )
    args = parser.parse_args(argv)
    rounds, tasks = (4, 100) if args.quick else (args.rounds, args.tasks)
    publish(run(rounds, tasks), "celery_tasks.md", save=args.save and not args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
