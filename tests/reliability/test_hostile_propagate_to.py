"""``propagate_to``: a host outside the list never sees a trace header, redirects included.

Two real servers on 127.0.0.1, one addressed as ``localhost`` (allowed) and one as
``127.0.0.1`` (foreign); each records the headers of every request it receives.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Callable

import pytest
import requests
from clients import adapter_session
from flask import Flask, redirect, request

import traced_http as traced
from traced_http.testing import events_of, serve_app

TRACE_HEADERS = ("traceid", "traceparent", "tracestate")
ALLOWED = ["localhost"]
INBOUND_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Recorder:
    """A server that records each request's headers and can redirect anywhere."""

    def __init__(self, name: str) -> None:
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.app = Flask(name)
        self.app.add_url_rule("/echo", "echo", self.echo)
        self.app.add_url_rule("/redirect", "redirect", self.bounce)

    def _record(self) -> None:
        with self.lock:
            self.seen.append({k.lower(): v for k, v in request.headers.items()})

    def echo(self) -> str:
        self._record()
        return "ok"

    def bounce(self) -> Any:
        self._record()
        return redirect(request.args["to"], code=302)

    def take(self) -> list[dict[str, str]]:
        with self.lock:
            seen, self.seen = self.seen, []
        return seen


@pytest.fixture(scope="module")
def hosts() -> Iterator[tuple[Recorder, str, Recorder, str]]:
    """(allowed server, its base URL on ``localhost``, foreign server, its base URL)."""
    allowed, foreign = Recorder("allowed"), Recorder("foreign")
    with serve_app(allowed.app) as allowed_url, serve_app(foreign.app) as foreign_url:
        port = allowed_url.rsplit(":", 1)[1]
        yield allowed, f"http://localhost:{port}", foreign, foreign_url


CLIENTS: dict[str, Callable[[], Any]] = {
    "TracedSession": lambda: traced.TracedSession(propagate_to=ALLOWED, timeout=5),
    "TracingAdapter": lambda: adapter_session(propagate_to=ALLOWED),
}


@pytest.fixture(params=sorted(CLIENTS))
def session(request: pytest.FixtureRequest) -> requests.Session:
    """A client following ``propagate_to=ALLOWED``: each of ``CLIENTS`` in turn."""
    client: requests.Session = CLIENTS[request.param]()
    return client


def _trace_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k in TRACE_HEADERS}


def test_a_foreign_host_gets_no_trace_header_even_one_the_caller_set(
    session: requests.Session,
    hosts: tuple[Recorder, str, Recorder, str],
    trace_events: list[dict[str, Any]],
) -> None:
    allowed, allowed_url, foreign, foreign_url = hosts
    with traced.trace("job"):
        trace_id = traced.current_traceid()
        session.get(foreign_url + "/echo", headers={"traceid": trace_id}, timeout=5)
        session.get(allowed_url + "/echo", timeout=5)

    (to_foreign,) = foreign.take()
    assert _trace_headers(to_foreign) == {}
    (to_allowed,) = allowed.take()
    assert to_allowed["traceid"] == trace_id
    assert to_allowed["traceparent"].split("-")[1] == trace_id


def test_a_redirect_from_an_allowed_host_to_a_foreign_one_drops_every_trace_header(
    session: requests.Session,
    hosts: tuple[Recorder, str, Recorder, str],
    trace_events: list[dict[str, Any]],
) -> None:
    allowed, allowed_url, foreign, foreign_url = hosts
    with traced.trace("job"):
        trace_id = traced.current_traceid()
        response = session.get(
            allowed_url + "/redirect",
            params={"to": foreign_url + "/echo"},
            headers={"traceid": trace_id},
            timeout=5,
        )

    assert response.status_code == 200
    (first,) = allowed.take()
    assert first["traceid"] == trace_id
    assert "traceparent" in first
    (second,) = foreign.take()
    assert _trace_headers(second) == {}
    calls = events_of(trace_events, "call")
    assert [c["msg_dict"]["status_code"] for c in calls] == [302, 200]
    assert calls[0]["span_id"] != calls[1]["span_id"]


def test_a_redirect_from_a_foreign_host_back_to_an_allowed_one_traces_that_hop(
    session: requests.Session,
    hosts: tuple[Recorder, str, Recorder, str],
    trace_events: list[dict[str, Any]],
) -> None:
    allowed, allowed_url, foreign, foreign_url = hosts
    with traced.trace("job"):
        trace_id = traced.current_traceid()
        session.get(foreign_url + "/redirect", params={"to": allowed_url + "/echo"}, timeout=5)

    (first,) = foreign.take()
    assert _trace_headers(first) == {}
    (second,) = allowed.take()
    assert second["traceid"] == trace_id
    call_spans = [c["span_id"] for c in events_of(trace_events, "call")]
    assert second["traceparent"].split("-")[2] == call_spans[1]


def test_inside_a_request_the_apps_propagate_to_holds_for_every_hop_and_tracestate(
    hosts: tuple[Recorder, str, Recorder, str],
    make_app: Callable[..., Flask],
    trace_events: list[dict[str, Any]],
) -> None:
    allowed, allowed_url, foreign, foreign_url = hosts
    app = make_app("gateway", propagate_to=ALLOWED)

    @app.route("/go")
    def go() -> str:
        traced.get(allowed_url + "/redirect", params={"to": foreign_url + "/echo"}, timeout=5)
        traced.get(foreign_url + "/redirect", params={"to": allowed_url + "/echo"}, timeout=5)
        return "done"

    response = app.test_client().get(
        "/go", headers={"traceparent": INBOUND_PARENT, "tracestate": "vendor=abc"}
    )

    assert response.status_code == 200
    trace_id = INBOUND_PARENT.split("-")[1]
    to_allowed = allowed.take()
    to_foreign = foreign.take()
    assert len(to_allowed) == len(to_foreign) == 2
    for headers in to_foreign:
        assert _trace_headers(headers) == {}
    for headers in to_allowed:
        assert headers["traceid"] == trace_id
        assert headers["tracestate"] == "vendor=abc"
    assert len(events_of(trace_events, "call")) == 4
