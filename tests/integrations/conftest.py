"""A real Redis broker and real Celery workers for the Celery tests.

Redis is Debian's ``redis-server``, started on 127.0.0.1 on a free port in a temporary
directory with persistence off, once per session. Each worker is a ``celery worker``
subprocess with its own queue and its own event log file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from benchmarks.redis_server import MISSING, private_redis

HERE = Path(__file__).parent


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A private redis-server on 127.0.0.1; its URL. Stopped at the end of the session."""
    pytest.importorskip("celery")
    if shutil.which("redis-server") is None:
        pytest.skip(MISSING)
    with private_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


class Worker:
    """A running ``celery worker`` subprocess: its queue, and the events it wrote."""

    def __init__(self, pool: str, queue: str, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.pool = pool
        self.queue = queue
        self.log = log
        self.proc = proc

    def events(self) -> list[dict[str, Any]]:
        """Every event the worker (all its processes) wrote so far."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        return [json.loads(line) for line in lines if line.endswith("}")]

    def events_of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        """The worker's events of one trace."""
        return [event for event in self.events() if event["traceid"] == trace_id]

    def wait_event(
        self, event_des: str, task_id: str, timeout: float = 20, **fields: Any
    ) -> dict[str, Any]:
        """The worker's ``event_des`` event of ``task_id`` (matching ``fields``), once written."""

        def found() -> dict[str, Any] | None:
            for event in self.events():
                msg = event["msg_dict"]
                if (
                    event["event_des"] == event_des
                    and msg.get("task_id") == task_id
                    and all(msg.get(k) == v for k, v in fields.items())
                ):
                    return event
            return None

        return wait_for(found, timeout, f"the worker's {event_des} of task {task_id}")


@pytest.fixture(scope="module", params=["prefork", "solo"])
def worker(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """A real worker with the given pool, on a queue of its own; stopped after the module."""
    pool = request.param
    tasks_app = pytest.importorskip("tasks_app")
    tasks_app.app.conf.update(broker_url=redis_url, result_backend=redis_url)
    log = tmp_path_factory.mktemp(f"worker-{pool}") / "events.jsonl"
    queue = f"tasks-{pool}-{os.getpid()}"
    name = f"{pool}-{os.getpid()}@127.0.0.1"
    env = {
        **os.environ,
        "TASKS_BROKER": redis_url,
        "TASKS_EVENT_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tasks_app",
            "worker",
            "--pool",
            pool,
            "--concurrency",
            "2",
            "--queues",
            queue,
            "--hostname",
            name,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=HERE,
        env=env,
    )
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or tasks_app.app.control.ping(destination=[name], timeout=0.5)
            ),
            60,
            f"the {pool} worker to answer a ping",
        )
        assert proc.poll() is None, f"the {pool} worker exited with {proc.returncode}"
        yield Worker(pool, queue, log, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
