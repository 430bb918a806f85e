"""A failure inside the library while describing a request never reaches the request."""

from __future__ import annotations

import logging

import pytest
from flask import request

import flask_hooks.extension as extension
import flask_hooks.request_events as request_events


def _explode(*args: object, **kwargs: object) -> dict[str, object]:
    raise RuntimeError("a bug in message building")


@pytest.mark.parametrize("builder", ["start_message", "end_message"])
def test_a_failing_message_builder_leaves_the_response_alone(
    make_app, trace_events, monkeypatch, caplog, builder
):
    app = make_app()
    app.route("/")(lambda: "fine")
    monkeypatch.setattr(extension, builder, _explode)

    with caplog.at_level(logging.ERROR, logger="traced_http.internal"):
        response = app.test_client().get("/")

    assert (response.status_code, response.text) == (200, "fine")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    failed = trace_events[0] if builder == "start_message" else trace_events[1]
    assert failed["msg_dict"]["capture_error"]["type"] == "RuntimeError"
    assert any(r.name == "traced_http.internal" and r.exc_info for r in caplog.records)


def test_a_body_nested_too_deep_costs_only_its_own_capture(make_app, trace_events):
    app = make_app()
    app.route("/", methods=["POST"])(lambda: (request.get_data(), "fine")[1])
    body = "[" * 1000 + "]" * 1000  # 2 KB, within the capture limit

    response = app.test_client().post(
        "/?q=1", data=body, content_type="application/json", headers={"X-Real-IP": "10.0.0.9"}
    )

    assert (response.status_code, response.text) == (200, "fine")
    start = trace_events[0]["msg_dict"]
    assert start["url"] == "http://localhost/?q=1"
    assert start["path"] == "/"
    assert start["ip"] == "10.0.0.9"
    assert start["headers"]["Content-Type"] == "application/json"
    assert "capture_error" not in start
    end = trace_events[1]["msg_dict"]
    assert end["request_data"]["_body"] == "too_deep"
    assert "capture_error" not in end


@pytest.mark.parametrize("part", ["request_url", "request_headers", "request_data"])
def test_a_failing_part_of_the_start_event_costs_only_that_part(
    make_app, trace_events, monkeypatch, part
):
    app = make_app()
    app.route("/")(lambda: "fine")
    monkeypatch.setattr(request_events, part, _explode)

    response = app.test_client().get("/?q=1", headers={"Accept": "text/plain"})

    assert (response.status_code, response.text) == (200, "fine")
    start = trace_events[0]["msg_dict"]
    assert start["capture_error"]["type"] == "RuntimeError"
    failed = {"request_url": "url", "request_headers": "headers", "request_data": "request_data"}
    assert start[failed[part]] is None
    assert start["path"] == "/"
    assert start["ip"] == "127.0.0.1"
    if part != "request_url":
        assert start["url"] == "http://localhost/?q=1"
    if part != "request_headers":
        assert start["headers"]["Accept"] == "text/plain"
    if part != "request_data":
        assert start["request_data"] == {"q": "1"}
