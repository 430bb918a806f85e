"""Configuring ``Tracing``: options and app.config, checked at init_app; the echoed header."""

from __future__ import annotations

import re

import pytest
import requests
from flask import Flask, abort

from flask_hooks import Tracing, register_handler
from traced_http.testing import events_of, serve_app

HEX32 = re.compile(r"[0-9a-f]{32}")


def add_routes(app: Flask) -> Flask:
    @app.route("/")
    def index():
        return "ok"

    @app.route("/missing")
    def missing():
        abort(404)

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.route("/cors")
    def cors():
        return "ok", 200, {"Access-Control-Allow-Origin": "*"}

    @app.route("/cors-exposing")
    def cors_exposing():
        return (
            "ok",
            200,
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Expose-Headers": "X-Total, ETag",
            },
        )

    @app.route("/health")
    @app.route("/health/<path:rest>")
    def health(rest=""):
        return "up"

    @app.route("/healthcare")
    @app.route("/health-check")
    def healthcare():
        return "care"

    return app


@pytest.fixture
def traced_app(make_app):
    return lambda **options: add_routes(make_app("svc", **options))


# --- the id on the response --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/missing", "/no/such/route", "/boom"])
def test_every_response_echoes_the_trace_id(traced_app, trace_events, path):
    response = traced_app().test_client().get(path)
    assert HEX32.fullmatch(response.headers["traceid"])
    assert response.headers["traceid"] == trace_events[0]["traceid"]


@pytest.mark.parametrize("header", ["X-Request-ID", "X-Correlation-ID"])
def test_an_id_from_a_request_id_header_is_echoed_under_that_header_too(traced_app, header):
    with serve_app(traced_app()) as url:
        response = requests.get(url, headers={header: "req-391"}, timeout=10)

    assert response.headers[header] == "req-391"
    assert response.headers["traceid"] == "req-391"


@pytest.mark.parametrize(
    "headers",
    [{}, {"traceid": "req-391"}, {"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}],
    ids=["generated", "traceid", "traceparent"],
)
def test_other_ids_are_echoed_under_the_configured_header_only(traced_app, headers):
    response = traced_app().test_client().get("/", headers=headers)

    assert "traceid" in response.headers
    assert not {"X-Request-ID", "X-Correlation-ID", "traceparent"} & set(response.headers.keys())


def test_no_echo_at_all_when_echo_is_off(traced_app):
    response = (
        traced_app(response_header=None).test_client().get("/", headers={"X-Request-ID": "req-391"})
    )
    assert "X-Request-ID" not in response.headers


def test_echoed_header_name_is_configurable(traced_app):
    response = traced_app(response_header="X-Trace-Id").test_client().get("/")
    assert HEX32.fullmatch(response.headers["X-Trace-Id"])
    assert "traceid" not in response.headers


def test_echo_is_turned_off_with_none(traced_app, trace_events):
    response = traced_app(response_header=None).test_client().get("/")
    assert "traceid" not in response.headers
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


def test_cors_response_exposes_the_echoed_header(traced_app):
    response = traced_app().test_client().get("/cors")
    assert response.headers["Access-Control-Expose-Headers"] == "traceid"


def test_cors_exposed_headers_are_kept_and_the_name_appended(traced_app):
    response = traced_app(response_header="X-Trace-Id").test_client().get("/cors-exposing")
    assert response.headers["Access-Control-Expose-Headers"] == "X-Total, ETag, X-Trace-Id"


def test_no_expose_header_without_cors(traced_app):
    assert "Access-Control-Expose-Headers" not in traced_app().test_client().get("/").headers


# --- excluded paths ----------------------------------------------------------------------


@pytest.mark.parametrize("excluded", ["/health", "/health/"])
@pytest.mark.parametrize("path", ["/health", "/health/live", "/health/a/b"])
def test_excluded_paths_write_no_events(traced_app, trace_events, excluded, path):
    app = traced_app(exclude_paths=[excluded])
    response = app.test_client().get(path)
    assert response.text == "up"
    assert trace_events == []


@pytest.mark.parametrize("path", ["/", "/healthcare", "/health-check"])
def test_an_excluded_path_matches_whole_segments_only(traced_app, trace_events, path):
    """``/health`` excludes ``/health`` and what is under it, not ``/healthcare``."""
    traced_app(exclude_paths=["/health"]).test_client().get(path)
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


def test_excluding_the_root_excludes_every_path(traced_app, trace_events):
    client = traced_app(exclude_paths=["/"]).test_client()
    for path in ("/", "/healthcare", "/no/such/route"):
        client.get(path)
    assert trace_events == []


# --- where settings come from ------------------------------------------------------------


def test_app_config_keys_name_the_same_settings_as_options(trace_events):
    app = Flask("svc")
    app.config.update(TRACE_SERVICE="from-config", TRACE_RESPONSE_HEADER="X-Config-Id")
    Tracing(app)
    add_routes(app)
    response = app.test_client().get("/")
    assert "X-Config-Id" in response.headers
    assert trace_events[0]["service"] == "from-config"


def test_options_win_over_app_config(trace_events):
    app = Flask("svc")
    app.config.update(TRACE_SERVICE="from-config", TRACE_RESPONSE_HEADER="X-Config-Id")
    Tracing(app, service="from-option")
    add_routes(app)
    response = app.test_client().get("/")
    assert trace_events[0]["service"] == "from-option"
    assert "X-Config-Id" in response.headers


def test_service_defaults_to_the_app_name(traced_app, trace_events):
    traced_app().test_client().get("/")
    assert trace_events[0]["service"] == "svc"


def test_unknown_option_is_a_type_error_naming_it():
    with pytest.raises(TypeError, match="respons_header"):
        Tracing(Flask("svc"), respons_header="X-Id")


def test_unknown_app_config_key_is_a_warning_naming_the_close_match(trace_events):
    app = Flask("svc")
    app.config["TRACE_BODY_LIMT"] = 10
    with pytest.warns(
        UserWarning, match=r"'TRACE_BODY_LIMT'.*did you mean TRACE_BODY_LIMIT\?"
    ) as seen:
        Tracing(app)
    assert seen[0].filename == __file__, "the warning points at the line that set tracing up"
    add_routes(app).test_client().get("/")
    assert [e["event_des"] for e in trace_events] == ["start", "end"], "the app is traced"


def test_an_apps_own_trace_key_is_ignored_with_a_warning(trace_events):
    app = Flask("svc")
    app.config["TRACE_SAMPLING_DB"] = "sqlite://"
    with pytest.warns(UserWarning, match="TRACE_SAMPLING_DB"):
        Tracing(app, body_limit=10)
    add_routes(app).test_client().get("/")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


def test_a_bad_app_config_value_names_its_key():
    app = Flask("svc")
    app.config["TRACE_BODY_LIMIT"] = "2048"
    with pytest.raises(ValueError, match=r"app.config\['TRACE_BODY_LIMIT'\]: body_limit"):
        Tracing(app)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("body_limit", "2048"),
        ("body_limit", -1),
        ("body_limit", True),
        ("capture_bodies", "yes"),
        ("service", 5),
        ("id_headers", "traceid"),
        ("id_headers", []),
        ("id_headers", ["traceid", 5]),
        ("response_header", 5),
        ("exclude_paths", ["health"]),
        ("exclude_paths", "/health"),
        ("redact_fields", "password"),
        ("redact_headers", None),
        ("propagate_to", "example.com"),
    ],
)
def test_bad_setting_is_refused_at_init_app_naming_it(option, value):
    with pytest.raises((TypeError, ValueError), match=option):
        Tracing(Flask("svc"), **{option: value})
    app = Flask("svc")
    app.config["TRACE_" + option.upper()] = value
    with pytest.raises((TypeError, ValueError), match=option):
        Tracing().init_app(app)


def test_a_refused_setting_leaves_the_app_untraced_and_fixable(trace_events):
    app = Flask("svc")
    with pytest.raises(ValueError):
        Tracing(app, body_limit=-1)
    Tracing(app, body_limit=10)
    add_routes(app).test_client().get("/")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


def test_second_init_app_on_the_same_app_raises(trace_events):
    app = Flask("svc")
    tracing = Tracing(app)
    with pytest.raises(RuntimeError, match="already"):
        tracing.init_app(app)
    with pytest.raises(RuntimeError, match="already"):
        Tracing(app)
    add_routes(app).test_client().get("/")
    assert [e["event_des"] for e in trace_events] == ["start", "end"], "hooks registered once"


def test_one_instance_serves_two_apps_with_their_own_settings(trace_events):
    tracing = Tracing(response_header="X-Id")
    first, second = Flask("first"), Flask("second")
    second.config["TRACE_SERVICE"] = "billing"
    second.config["TRACE_EXCLUDE_PATHS"] = ["/"]
    for app in (first, second):
        tracing.init_app(app)
        add_routes(app)
    assert "X-Id" in first.test_client().get("/").headers
    assert "X-Id" not in second.test_client().get("/").headers
    assert [e["service"] for e in trace_events] == ["first", "first"]


def test_register_handler_is_the_recipes_name_for_tracing(trace_events):
    app = add_routes(Flask("legacy"))
    assert isinstance(register_handler(app), Tracing)
    response = app.test_client().get("/", headers={"traceid": "legacy-1"})
    assert response.headers["traceid"] == "legacy-1"
    assert [e["traceid"] for e in trace_events] == ["legacy-1", "legacy-1"]


def test_register_handler_takes_options(trace_events):
    app = add_routes(Flask("legacy"))
    register_handler(app, service="gateway")
    app.test_client().get("/")
    assert events_of(trace_events, "start")[0]["service"] == "gateway"
