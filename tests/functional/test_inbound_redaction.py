"""Secrets sent to or by a traced app never reach its log."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask, make_response, redirect, request

import traced_http as traced
from traced_http.testing import events_of, serve_app

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
def test_secret_request_headers_are_redacted(app, trace_events, log_text, header):
    client = app.test_client()
    if header == "Cookie":  # the test client sends Cookie from its own jar only
        client.set_cookie("session", SECRET)
        client.get("/", headers={"Accept": "text/plain"})
    else:
        client.get("/", headers={header: SECRET, "Accept": "text/plain"})
    headers = events_of(trace_events, "start")[0]["msg_dict"]["headers"]
    logged = {name.lower(): value for name, value in headers.items()}
    assert logged[header.lower()] == "[REDACTED]"
    assert logged["accept"] == "text/plain"
    assert SECRET not in log_text()


def test_set_cookie_and_secret_response_fields_are_redacted(app, trace_events, log_text):
    app.test_client().get("/")
    end = events_of(trace_events, "end")[0]["msg_dict"]
    assert end["headers"]["Set-Cookie"] == "[REDACTED]"
    assert end["response_data"] == {"access_token": "[REDACTED]", "user": "ann"}
    assert SECRET not in log_text()


def test_secret_query_fields_are_redacted_in_url_and_request_data(app, trace_events, log_text):
    app.test_client().get("/", query_string={"api_key": SECRET, "Password": SECRET, "q": "1"})
    start = events_of(trace_events, "start")[0]["msg_dict"]
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
def test_secret_body_fields_are_redacted_at_any_depth(
    app, trace_events, log_text, kwargs, expected
):
    app.test_client().post("/", **kwargs)
    assert events_of(trace_events, "end")[0]["msg_dict"]["request_data"] == expected
    assert SECRET not in log_text()


@pytest.mark.parametrize(
    ("kwargs"),
    [
        pytest.param({"json": {"api_token": SECRET, "pad": "x" * 1000}}, id="json"),
        pytest.param({"data": {"password": SECRET, "pad": "x" * 1000}}, id="form"),
    ],
)
def test_preview_of_a_cut_body_hides_secrets(app, trace_events, log_text, kwargs):
    app.test_client().post("/", **kwargs)
    captured = events_of(trace_events, "end")[0]["msg_dict"]["request_data"]
    assert captured["_body"] == "truncated"
    assert "[REDACTED]" in captured["preview"]
    assert SECRET not in log_text()


def test_redacted_lists_are_configurable(make_app, trace_events):
    app = make_app("svc", redact_headers=["X-Session"], redact_fields=["pin"])

    @app.route("/", methods=["POST"])
    def index():
        return request.get_json()

    app.test_client().post(
        "/", json={"pin": "1234", "password": "shown"}, headers={"X-Session": "s1"}
    )
    start = events_of(trace_events, "start")[0]["msg_dict"]
    assert start["headers"]["X-Session"] == "[REDACTED]"
    end = events_of(trace_events, "end")[0]["msg_dict"]
    assert end["request_data"] == {"pin": "[REDACTED]", "password": "shown"}


def test_redaction_lists_from_app_config(trace_events):
    from flask_hooks import Tracing

    app = Flask("svc")
    app.config["TRACE_REDACT_FIELDS"] = ["card"]
    Tracing(app)

    @app.route("/")
    def index():
        return "ok"

    app.test_client().get("/?card_number=4111&token=t")
    assert events_of(trace_events, "start")[0]["msg_dict"]["request_data"] == {
        "card_number": "[REDACTED]",
        "token": "t",
    }


def test_request_headers_copied_into_a_user_event_are_redacted(make_app, trace_events, log_text):
    app = make_app()

    @app.route("/")
    def index():
        traced.add_event("incoming", {"headers": dict(request.headers)})
        return "ok"

    app.test_client().get("/", headers={"Authorization": f"Bearer {SECRET}"})
    (event,) = events_of(trace_events, "incoming")
    assert event["msg_dict"]["headers"]["Authorization"] == "[REDACTED]"
    assert SECRET not in log_text()


def test_user_event_remarks_are_redacted_as_text(make_app, trace_events, log_text):
    app = make_app()

    @app.route("/")
    def index():
        traced.add_event("retrying", remarks=f"GET https://ann:{SECRET}@h/x?token={SECRET}")
        return "ok"

    app.test_client().get("/")
    (event,) = events_of(trace_events, "retrying")
    assert event["remarks"] == "GET https://[REDACTED]@h/x?token=[REDACTED]"
    assert SECRET not in log_text()


@pytest.mark.parametrize("name", ["Api-Key", "X-Goog-Api-Key", "X-Session-Id", "Private-Key"])
def test_hyphenated_secret_header_names_are_redacted(app, trace_events, log_text, name):
    app.test_client().get("/", headers={name: SECRET})
    headers = events_of(trace_events, "start")[0]["msg_dict"]["headers"]
    assert headers[name] == "[REDACTED]"
    assert SECRET not in log_text()


def test_hyphenated_query_names_are_redacted_in_url_and_request_data(app, trace_events, log_text):
    app.test_client().get(f"/?api-key={SECRET}&q=1")
    start = events_of(trace_events, "start")[0]["msg_dict"]
    assert start["url"] == "http://localhost/?api-key=[REDACTED]&q=1"
    assert start["request_data"] == {"api-key": "[REDACTED]", "q": "1"}
    assert SECRET not in log_text()


def test_utf16_json_body_is_decoded_and_redacted(app, trace_events, log_text):
    body = json.dumps({"user": "ann", "password": SECRET}).encode("utf-16")
    app.test_client().post("/", data=body, content_type="application/json")
    end = events_of(trace_events, "end")[0]["msg_dict"]
    assert end["request_data"] == {"user": "ann", "password": "[REDACTED]"}
    assert SECRET not in log_text()


def test_xml_body_element_names_are_scanned(app, trace_events, log_text):
    body = f"<Envelope><wsse:Password>{SECRET}</wsse:Password><n>ann</n></Envelope>"
    app.test_client().post("/", data=body, content_type="application/soap+xml")
    captured = events_of(trace_events, "end")[0]["msg_dict"]["request_data"]
    assert "<n>ann</n>" in captured
    assert SECRET not in log_text()


def test_location_fragment_with_a_token_is_redacted(make_app, trace_events, log_text):
    app = make_app()
    app.route("/")(lambda: redirect(f"https://app.example/cb#access_token={SECRET}&state=s"))

    app.test_client().get("/")
    location = events_of(trace_events, "end")[0]["msg_dict"]["headers"]["Location"]
    assert location == "https://app.example/cb#access_token=[REDACTED]&state=s"
    assert SECRET not in log_text()


@pytest.mark.parametrize(
    "url",
    [
        "http://ann:{secret}@127.0.0.1:{port}/missing",
        "http://ann:{secret}@[bad/x",
    ],
    ids=["raise_for_status", "InvalidURL"],
)
def test_url_credentials_in_an_error_message_are_redacted(make_app, trace_events, url):
    downstream = Flask("downstream")
    app = make_app()

    @app.route("/")
    def index():
        traced.get(url.format(secret=SECRET, port=port)).raise_for_status()
        return "unreachable"

    with serve_app(downstream) as base:
        port = base.rsplit(":", 1)[1]
        assert app.test_client().get("/").status_code == 500
    error = events_of(trace_events, "end")[0]["msg_dict"]["error"]
    assert "ann:" not in error["message"]
    assert SECRET not in json.dumps(trace_events)  # Flask's own error log is the app's business


def test_future_version_traceparent_with_a_long_tail_is_cut(app, trace_events):
    header = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-" + "\x1b[31m" * 1000
    app.test_client().get("/", headers={"traceparent": header})
    start = events_of(trace_events, "start")[0]["msg_dict"]
    assert start["id_source"] == "traceparent"
    logged = start["headers"]["Traceparent"]
    assert logged.endswith(f"...[cut, {len(header)} in all]")
    assert len(logged) < 2100


def test_long_referer_is_cut_before_it_is_redacted(app, trace_events, log_text):
    referer = "http://x/?" + "a" * 8000 + "&" + f"token={SECRET}"
    app.test_client().get("/", headers={"Referer": f"http://u:{SECRET}@h/?token={SECRET}"})
    app.test_client().get("/", headers={"Referer": referer})
    first, second = (e["msg_dict"]["headers"]["Referer"] for e in events_of(trace_events, "start"))
    assert first == "http://[REDACTED]@h/?token=[REDACTED]"
    assert second.endswith(f"...[cut, {len(referer)} in all]")
    assert SECRET not in log_text()


def test_long_path_and_query_are_cut_in_the_logged_url(app, trace_events):
    app.test_client().get("/" + "p" * 5000 + "?" + "a&" * 5000)
    start = events_of(trace_events, "start")[0]["msg_dict"]
    assert start["url"].endswith("in all]")
    assert len(start["url"]) < 2100
    assert len(start["path"]) < 2100
    assert start["request_data"]["..."] == f"[{5001 - 64} more]"


def test_many_long_headers_are_logged_within_a_total_bound(app, trace_events):
    headers = {f"X-Field-{i}": "v" * 8000 for i in range(99)}
    app.test_client().get("/", headers=headers)
    logged = events_of(trace_events, "start")[0]["msg_dict"]["headers"]
    assert len(json.dumps(logged)) < 8 * 2048 + 99 * 60
    assert logged["X-Field-98"] == "...[cut, 8000 in all]"


def test_a_json_key_written_with_escapes_is_still_redacted(make_app, trace_events):
    app = make_app()
    app.post("/login")(lambda: {"user": request.get_json()["user"]})
    body = '{"user": "bob", "pass\\u0077ord": "' + SECRET + '"}'

    app.test_client().post("/login", data=body, content_type="application/json")

    assert trace_events[1]["msg_dict"]["request_data"] == {"user": "bob", "password": "[REDACTED]"}
    assert SECRET not in json.dumps(trace_events)
