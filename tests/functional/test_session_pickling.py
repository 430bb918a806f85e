"""Sessions and adapters pickle and copy as ``requests.Session`` and ``HTTPAdapter`` do.

An SDK client holding a session is pickled by multiprocessing, Celery and joblib, and
deep-copied by configuration code; the copy must make traced calls like the original.
"""

from __future__ import annotations

import copy
import multiprocessing
import pickle
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

import pytest
import requests
from flask import Flask, jsonify, request
from urllib3.util.retry import Retry

import traced_http as traced
from traced_http.testing import capture_events, events_of, serve_app

WAIT = 10.0


class StatusRetry(Retry):
    """A caller's own Retry class: it must survive the round trip as itself."""


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = Flask("echo")

    @app.get("/echo")
    def echo() -> Any:
        return jsonify(traceid=request.headers.get("traceid"))

    with serve_app(app) as base:
        yield f"{base}/echo"


def _pickled(obj: Any) -> Any:
    return pickle.loads(pickle.dumps(obj))


ROUND_TRIPS: list[Callable[[Any], Any]] = [_pickled, copy.deepcopy, copy.copy]


def _assert_traced_call(session: requests.Session, url: str, service: str) -> None:
    with capture_events() as events:
        answer = session.get(url)
    assert answer.status_code == 200
    (call,) = events_of(events, "call")
    assert answer.json()["traceid"] == call["traceid"]
    assert call["service"] == service
    assert call["msg_dict"]["status_code"] == 200


@pytest.mark.parametrize("round_trip", ROUND_TRIPS, ids=["pickle", "deepcopy", "copy"])
def test_traced_session_keeps_its_settings_and_traces(round_trip: Any, url: str) -> None:
    session = traced.TracedSession(timeout=(2.0, 7.0), retries=StatusRetry(2), service="sdk")
    session.headers["X-Client"] = "sdk"

    again = round_trip(session)

    assert again.timeout == (2.0, 7.0)
    assert again.headers["X-Client"] == "sdk"
    policy = again.get_adapter(url).max_retries
    assert isinstance(policy, StatusRetry)
    assert policy.total == 2
    _assert_traced_call(again, url, "sdk")


@pytest.mark.parametrize("round_trip", ROUND_TRIPS, ids=["pickle", "deepcopy", "copy"])
def test_plain_session_with_a_tracing_adapter_keeps_it(round_trip: Any, url: str) -> None:
    session = requests.Session()
    session.mount("http://", traced.TracingAdapter(5, 5, 1, service="mounted"))

    again = round_trip(session)

    adapter = again.get_adapter(url)
    assert isinstance(adapter, traced.TracingAdapter)
    assert adapter.max_retries.total == 1
    _assert_traced_call(again, url, "mounted")


def test_the_default_session_pickles(url: str) -> None:
    again = _pickled(traced.default_session())

    _assert_traced_call(again, url, "python")
    assert len(again.cookies) == 0


def _call_in_child(session: requests.Session, url: str) -> tuple[int, Any]:
    answer = session.get(url)
    return answer.status_code, answer.json()["traceid"]


def test_a_session_sent_to_a_spawned_process_makes_traced_calls(url: str) -> None:
    session = traced.TracedSession(service="worker")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        status, traceid = pool.submit(_call_in_child, session, url).result(timeout=60)
    assert status == 200
    assert traceid and len(traceid) == 32
