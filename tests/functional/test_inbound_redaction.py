"""Secrets sent to or by a traced app never reach its log."""

from __future__ import annotations

import logging

import pytest
from flask import Flask, make_response, request

from traced_http.testing import events_of

SECRET = "hunter2-SECRET"


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("svc", body_limit=256)

    @app.route("/", methods=["GET", "POST"])
    def index():
        request.get_data()  # a request body is logged as far as the app read it
        response = make_response({"access_token": SECRET, "user": "ann"})
        response.set_cookie("session", SECRET)
        return response

    return app


@pytest.fixture
def log_text(caplog):
    """Everything logged during the test, as text."""
    caplog.set_level(logging.INFO)
    return lambda: caplog.text


@pytest.mark.parametrize(
    "header", ["Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "X-Auth-Token"]
)
def test_secret_request_headers_are_redacted(app, events, log_text, header):
    client = app.test_client()
    if header == "Cookie":  # the test client sends Cookie from its own jar only
        client.set_cookie("session", SECRET)
        client.get("/", headers={"Accept": "text/plain"})
    else:
        client.get("/", headers={header: SECRET, "Accept": "text/plain"})
    headers = events_of(events, "start")[0]["msg_dict"]["headers"]
    logged = {name.lower(): value for name, value in headers.items()}
    assert logged[header.lower()] == "[REDACTED]"
    assert logged["accept"] == "text/plain"
    assert SECRET not in log_text()


def test_set_cookie_and_secret_response_fields_are_redacted(app, events, log_text):
    app.test_client().get("/")
    end = events_of(events, "end")[0]["msg_dict"]
    assert end["headers"]["Set-Cookie"] == "[REDACTED]"
    assert end["response_data"] == {"access_token": "[REDACTED]", "user": "ann"}
    assert SECRET not in log_text()


def test_secret_query_fields_are_redacted_in_url_and_request_data(app, events, log_text):
    app.test_client().get("/", query_string={"api_key": SECRET, "Password": SECRET, "q": "1"})
    start = events_of(events, "start")[0]["msg_dict"]
    assert start["request_data"] == {"api_key": "[REDACTED]", "Password": "[REDACTED]", "q": "1"}
    assert "q=1" in start["url"]
    assert SECRET not in log_text()


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param(
            {"data": {"user": "ann", "passwd": SECRET, "client_secret": SECRET}},
            {"user": "ann", "passwd": "[REDACTED]", "client_secret": "[REDACTED]"},
            id="form",
        ),
        pytest.param(
            {"json": {"user": "ann", "auth": {"list": [{"refresh_token": SECRET}]}}},
            {"user": "ann", "auth": {"list": [{"refresh_token": "[REDACTED]"}]}},
            id="json-nested",
        ),
        pytest.param(
            {"json": {"apikey": SECRET, "ApiKey": SECRET}},
            {"apikey": "[REDACTED]", "ApiKey": "[REDACTED]"},
            id="json-case-insensitive",
        ),
    ],
)
def test_secret_body_fields_are_redacted_at_any_depth(app, events, log_text, kwargs, expected):
    app.test_client().post("/", **kwargs)
    assert events_of(events, "end")[0]["msg_dict"]["request_data"] == expected
    assert SECRET not in log_text()


@pytest.mark.parametrize(
    ("kwargs"),
    [
        pytest.param({"json": {"api_token": SECRET, "pad": "x" * 1000}}, id="json"),
        pytest.param({"data": {"password": SECRET, "pad": "x" * 1000}}, id="form"),
    ],
)
def test_preview_of_a_cut_body_hides_secrets(app, events, log_text, kwargs):
    app.test_client().post("/", **kwargs)
    captured = events_of(events, "end")[0]["msg_dict"]["request_data"]
    assert captured["_body"] == "truncated"
    assert "[REDACTED]" in captured["preview"]
    assert SECRET not in log_text()


def test_redacted_lists_are_configurable(make_app, events):
    app = make_app("svc", redact_headers=["X-Session"], redact_fields=["pin"])

    @app.route("/", methods=["POST"])
    def index():
        return request.get_json()

    app.test_client().post(
        "/", json={"pin": "1234", "password": "shown"}, headers={"X-Session": "s1"}
    )
    start = events_of(events, "start")[0]["msg_dict"]
    assert start["headers"]["X-Session"] == "[REDACTED]"
    end = events_of(events, "end")[0]["msg_dict"]
    assert end["request_data"] == {"pin": "[REDACTED]", "password": "shown"}


def test_redaction_lists_from_app_config(events):
    from flask_hooks import Tracing

    app = Flask("svc")
    app.config["TRACE_REDACT_FIELDS"] = ["card"]
    Tracing(app)

    @app.route("/")
    def index():
        return "ok"

    app.test_client().get("/?card_number=4111&token=t")
    assert events_of(events, "start")[0]["msg_dict"]["request_data"] == {
        "card_number": "[REDACTED]",
        "token": "t",
    }
