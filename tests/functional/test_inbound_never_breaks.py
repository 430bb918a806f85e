"""A failure inside the library while describing a request never reaches the request."""

from __future__ import annotations

import logging

import pytest

import flask_hooks.extension as extension


def _explode(*args: object, **kwargs: object) -> dict[str, object]:
    raise RuntimeError("a bug in message building")


@pytest.mark.parametrize("builder", ["start_message", "end_message"])
def test_a_failing_message_builder_leaves_the_response_alone(
    make_app, events, monkeypatch, caplog, builder
):
    app = make_app()
    app.route("/")(lambda: "fine")
    monkeypatch.setattr(extension, builder, _explode)

    with caplog.at_level(logging.ERROR, logger="traced_http.internal"):
        response = app.test_client().get("/")

    assert (response.status_code, response.text) == (200, "fine")
    assert [e["event_des"] for e in events] == ["start", "end"]
    failed = events[0] if builder == "start_message" else events[1]
    assert failed["msg_dict"]["capture_error"]["type"] == "RuntimeError"
    assert any(r.name == "traced_http.internal" and r.exc_info for r in caplog.records)
