"""The Celery app of the integration tests: imported by the tests and by the real worker.

The worker writes its events, one JSON line each, to the file named by
``TASKS_EVENT_LOG``; the broker is the test session's Redis (``TASKS_BROKER``).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from celery import Celery

import traced_http as traced
from traced_http.celery import instrument

BROKER = os.environ.get("TASKS_BROKER", "redis://127.0.0.1:6379/0")
app = Celery("tasks", broker=BROKER, backend=BROKER)
app.conf.update(
    task_default_queue="tasks",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    result_expires=300,
)
instrument(app)

if os.environ.get("TASKS_EVENT_LOG"):
    handler = logging.FileHandler(os.environ["TASKS_EVENT_LOG"])
    handler.setFormatter(traced.JsonFormatter())
    events_logger = logging.getLogger("traced_http")
    events_logger.addHandler(handler)
    events_logger.setLevel(logging.INFO)


@app.task
def call_billing(url: str) -> int:
    """Calls a second service: the call is a child of the task's span."""
    return traced.get(url + "/charge").status_code


@app.task(bind=True, max_retries=2)
def flaky(self: Any) -> int:
    """Fails its first attempt and asks to be retried shortly."""
    if self.request.retries == 0:
        raise self.retry(exc=ConnectionError("billing is down"), countdown=0.2)
    return self.request.retries + 1


@app.task
def noop() -> str:
    return traced.current_traceid() or ""


@app.task
def sleepy(seconds: float) -> None:
    time.sleep(seconds)
