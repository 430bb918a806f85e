"""The service an event names, in order: the app's inside a request; a session's own
``service=``; a ``trace()`` block's own; ``OTEL_SERVICE_NAME``; else ``python``."""

from __future__ import annotations

from typing import Any

import pytest

import traced_http as traced
from traced_http.testing import events_of

URL = "http://api.example/x"


@pytest.fixture
def rsps(traced_responses: Any) -> Any:
    """The kit's ``traced_responses``, with this module's routes."""
    traced_responses.add("GET", URL, body="ok")
    return traced_responses


@pytest.fixture(params=[None, "orders-env"], ids=["no-env", "OTEL_SERVICE_NAME"])
def otel_name(request: Any, monkeypatch: pytest.MonkeyPatch) -> str | None:
    if request.param is None:
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("OTEL_SERVICE_NAME", request.param)
    return request.param  # type: ignore[no-any-return]


def services(events: list[dict[str, Any]]) -> dict[str, str]:
    return {event["event_des"]: event["service"] for event in events}


@pytest.mark.parametrize("session_service", [None, "billing-worker"])
def test_a_call_outside_any_trace(rsps, trace_events, otel_name, session_service):
    session = traced.TracedSession(**({"service": session_service} if session_service else {}))

    session.get(URL)

    assert services(trace_events) == {"call": session_service or otel_name or "python"}


@pytest.mark.parametrize("session_service", [None, "billing-worker"])
def test_in_a_trace_block_that_names_no_service(rsps, trace_events, otel_name, session_service):
    session = traced.TracedSession(**({"service": session_service} if session_service else {}))

    with traced.trace("job"):
        session.get(URL)

    default = otel_name or "python"
    assert services(trace_events) == {
        "start": default,
        "call": session_service or default,
        "end": default,
    }


def test_a_trace_block_that_names_its_service_wins_over_the_session(rsps, trace_events, otel_name):
    with traced.trace("job", service="nightly"):
        traced.TracedSession(service="billing-worker").get(URL)

    assert services(trace_events) == {"start": "nightly", "call": "nightly", "end": "nightly"}


def test_inside_a_request_the_app_names_every_event(rsps, trace_events, otel_name, make_app):
    app = make_app("orders")
    app.add_url_rule("/", "view", lambda: traced.TracedSession(service="worker").get(URL).text)

    app.test_client().get("/")

    assert services(trace_events) == {"start": "orders", "call": "orders", "end": "orders"}


def test_retry_events_name_the_same_service_as_their_call(
    traced_responses, trace_events, otel_name
):
    traced_responses.add("GET", URL, status=503)
    traced_responses.add("GET", URL, body="ok")
    session = traced.TracedSession(service="billing-worker", retries=1)
    with traced.trace("job"):
        session.get(URL)

    assert len(traced_responses.calls) == 2  # the 503, then its retry

    assert {
        e["service"] for e in events_of(trace_events, "retry") + events_of(trace_events, "call")
    } == {"billing-worker"}
