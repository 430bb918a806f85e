"""Turning live export on: the setting, ``app.config``, and the OpenTelemetry variables."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from flask import Flask

from flask_hooks import Tracing
from traced_http.otlp import export_url
from traced_http.otlp.live import active_exports


@pytest.mark.parametrize(
    ("setting", "environ", "expected"),
    [
        (None, {}, None),
        ("http://collector:4318", {}, "http://collector:4318/v1/traces"),
        ("http://collector:4318/", {}, "http://collector:4318/v1/traces"),
        (None, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "http://c:4318/v1/traces"),
        (None, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/in"}, "http://c:4318/in"),
        (
            None,
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://base:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4318/v1/traces",
            },
            "http://traces:4318/v1/traces",
        ),
        (
            "http://app:4318",
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://env:4318"},
            "http://app:4318/v1/traces",
        ),
    ],
)
def test_endpoint_forms(setting, environ, expected):
    assert export_url(setting, environ) == expected


def _serve_one(app: Flask) -> None:
    @app.route("/ping")
    def ping() -> Any:
        return "pong"

    app.test_client().get("/ping")


def test_app_config_key_turns_export_on(receiver):
    app = Flask("orders")
    app.config["TRACE_OTLP_ENDPOINT"] = receiver.base_url
    Tracing(app)
    _serve_one(app)
    (export,) = active_exports()
    assert export.flush()
    (span,) = receiver.wait_for_spans(1)
    assert (span.service, span.span.name) == ("orders", "GET /ping")


def test_otel_variables_turn_export_on_with_their_headers(receiver, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.base_url + "/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    app = Flask("orders")
    Tracing(app)
    _serve_one(app)
    (export,) = active_exports()
    assert export.flush()
    receiver.wait_for_spans(1)
    assert receiver.headers[0]["x-tenant"] == "acme"


def test_no_setting_no_variable_no_export():
    app = Flask("orders")
    Tracing(app)
    assert active_exports() == []


def test_bad_endpoint_is_refused_at_init():
    with pytest.raises(ValueError, match="otlp_endpoint"):
        Tracing(Flask("orders"), otlp_endpoint="collector:4318")


def test_setting_without_the_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http", None)
    with pytest.raises(RuntimeError, match=r"traced-http\[otlp\]"):
        Tracing(Flask("orders"), otlp_endpoint="http://127.0.0.1:4318")


def test_variable_without_the_extra_only_warns(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http", None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    with caplog.at_level(logging.WARNING, "traced_http.internal"):
        Tracing(Flask("orders"))
    assert active_exports() == []
    assert "otlp extra" in caplog.text


def test_json_lines_still_written_when_export_is_on(receiver):
    """The export's handler must not count as 'someone receives the events'."""
    logger = logging.getLogger("traced_http")
    logger.handlers = []
    logger.propagate = False  # as in a service whose root logger has no handler
    Tracing(Flask("orders"), otlp_endpoint=receiver.base_url)
    kinds = [type(h).__name__ for h in logger.handlers]
    assert kinds == ["StreamHandler", "LiveExport"]
