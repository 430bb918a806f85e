"""The service an event names, in order: the app's inside a request; a session's own
``service=``; a ``trace()`` block's own; ``OTEL_SERVICE_NAME``; else ``python``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional

import pytest
import responses

import traced_http as traced
from traced_http.testing import events_of

URL = "http://api.example/x"


@pytest.fixture
def rsps() -> Iterator[Any]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add("GET", URL, body="ok")
        yield mock


@pytest.fixture(params=[None, "orders-env"], ids=["no-env", "OTEL_SERVICE_NAME"])
def otel_name(request: Any, monkeypatch: pytest.MonkeyPatch) -> Optional[str]:
    if request.param is None:
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    else:
        monkeypatch.setenv("OTEL_SERVICE_NAME", request.param)
    return request.param  # type: ignore[no-any-return]


def services(events: list[dict[str, Any]]) -> dict[str, str]:
    return {event["event_des"]: event["service"] for event in events}


@pytest.mark.parametrize("session_service", [None, "billing-worker"])
def test_a_call_outside_any_trace(rsps, events, otel_name, session_service):
    session = traced.TracedSession(**({"service": session_service} if session_service else {}))

    session.get(URL)

    assert services(events) == {"call": session_service or otel_name or "python"}


@pytest.mark.parametrize("session_service", [None, "billing-worker"])
def test_in_a_trace_block_that_names_no_service(rsps, events, otel_name, session_service):
    session = traced.TracedSession(**({"service": session_service} if session_service else {}))

    with traced.trace("job"):
        session.get(URL)

    default = otel_name or "python"
    assert services(events) == {
        "start": default,
        "call": session_service or default,
        "end": default,
    }


def test_a_trace_block_that_names_its_service_wins_over_the_session(rsps, events, otel_name):
    with traced.trace("job", service="nightly"):
        traced.TracedSession(service="billing-worker").get(URL)

    assert services(events) == {"start": "nightly", "call": "nightly", "end": "nightly"}


def test_inside_a_request_the_app_names_every_event(rsps, events, otel_name, make_app):
    app = make_app("orders")
    app.add_url_rule("/", "view", lambda: traced.TracedSession(service="worker").get(URL).text)

    app.test_client().get("/")

    assert services(events) == {"start": "orders", "call": "orders", "end": "orders"}


def test_retry_events_name_the_same_service_as_their_call(events, otel_name):
    with responses.RequestsMock() as mock:
        mock.add("GET", URL, status=503)
        mock.add("GET", URL, body="ok")
        session = traced.TracedSession(service="billing-worker", retries=1)
        with traced.trace("job"):
            session.get(URL)

    assert {e["service"] for e in events_of(events, "retry") + events_of(events, "call")} == {
        "billing-worker"
    }
