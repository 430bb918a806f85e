"""One service of the A -> B -> C chain that the load tests run under gunicorn.

The environment says which one: ``SERVICE_NAME``; ``NEXT_URL``, the service below (unset
for the last); ``EVENT_LOG``, a path prefix. Each worker process writes its events to
``<EVENT_LOG>.<pid>``: several processes appending to one file could interleave parts
of long lines, which is a logging set-up question, not what these tests are about.

Run as ``gunicorn --pythonpath tests/reliability 'chain_app:create_app()'``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, g, request

import traced_http as traced
from flask_hooks import Tracing

READY_PATH = "/ready"
CHAIN_PATH = "/chain"


def create_app() -> Flask:
    """The service named by the environment; ``GET /chain?n=<i>`` walks the rest of the chain.

    The answer lists, for each service, the trace id it saw before and after its own
    outbound call, so the driver can tell a mixed-up context from the response alone.
    """
    name = os.environ["SERVICE_NAME"]
    next_url = os.environ.get("NEXT_URL") or None
    log_events_to(f"{os.environ['EVENT_LOG']}.{os.getpid()}")

    app = Flask(name)
    Tracing(app, service=name, exclude_paths=(READY_PATH,))

    @app.get(READY_PATH)
    def ready() -> dict[str, Any]:
        return {"service": name}

    @app.get(CHAIN_PATH)
    def chain() -> dict[str, Any]:
        seen = {"service": name, "traceid": g.traceid, "before": traced.current_traceid()}
        below: list[Any] = []
        if next_url is not None:
            answer = traced.get(next_url + CHAIN_PATH, params={"n": request.args.get("n", "")})
            answer.raise_for_status()
            below = answer.json()["chain"]
        seen["after"] = traced.current_traceid()
        return {"chain": [seen, *below]}

    return app


def log_events_to(path: str) -> None:
    """Events of this process go, as JSON lines, to ``path`` and nowhere else."""
    logger = logging.getLogger("traced_http")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(traced.JsonFormatter())
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
