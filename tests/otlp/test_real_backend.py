"""End to end against a real trace backend that ingests OTLP and answers queries.

Arize Phoenix (``pip install arize-phoenix``; about 150 packages, minutes to install, so
not in CI) takes OTLP/HTTP on its port and lists spans through its REST API. Run it and
point the test at it:

    PHOENIX_PORT=36006 phoenix serve &
    OTLP_BACKEND_URL=http://127.0.0.1:36006 pytest -m otlp_backend tests/otlp

Without ``OTLP_BACKEND_URL`` the test is skipped.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import pytest
import requests

import traced_http as traced
from traced_http.otlp.live import active_exports
from traced_http.testing import serve_app

BACKEND = os.environ.get("OTLP_BACKEND_URL", "")

pytestmark = [
    pytest.mark.otlp_backend,
    pytest.mark.skipif(not BACKEND, reason="set OTLP_BACKEND_URL to a running Phoenix"),
]


def _spans_of(trace_id: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{BACKEND}/v1/projects/default/spans", params={"limit": 1000}, timeout=10
    )
    answer.raise_for_status()
    return [s for s in answer.json()["data"] if s["context"]["trace_id"] == trace_id]


def test_backend_stores_the_chain_as_one_trace(make_app: Callable[..., Any]):
    hello = make_app("hello", otlp_endpoint=BACKEND)

    @hello.route("/hello/<name>")
    def greet(name: str) -> Any:
        return {"hello": name}

    gateway = make_app("gateway", otlp_endpoint=BACKEND)
    with serve_app(hello) as hello_url:

        @gateway.route("/greet")
        def relay() -> Any:
            return traced.get(hello_url + "/hello/ada").json()

        with serve_app(gateway) as gateway_url:
            trace_id = requests.get(gateway_url + "/greet", timeout=10).headers["traceid"]
    (export,) = active_exports()
    assert export.flush()
    deadline = time.monotonic() + 30
    while len(spans := _spans_of(trace_id)) < 3 and time.monotonic() < deadline:
        time.sleep(0.5)
    by_name = {s["name"]: s for s in spans}
    assert set(by_name) == {"GET /greet", "GET", "GET /hello/<name>"}
    assert by_name["GET /greet"]["parent_id"] is None
    assert by_name["GET"]["parent_id"] == by_name["GET /greet"]["context"]["span_id"]
    assert by_name["GET /hello/<name>"]["parent_id"] == by_name["GET"]["context"]["span_id"]
    assert by_name["GET /hello/<name>"]["attributes"]["http.route"] == "/hello/<name>"
