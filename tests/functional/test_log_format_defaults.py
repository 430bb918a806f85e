"""Logging out of the box: events are seen without set-up, and an app's own set-up is kept."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from flask import Flask

import traced_http as traced
from flask_hooks import Tracing


@pytest.fixture
def pristine_logging():
    """The traced_http logger as a fresh process has it: level unset, no handlers.

    Restored after the test, with the root logger's handlers.
    """
    logger = logging.getLogger("traced_http")
    root = logging.getLogger()
    saved = (logger.level, list(logger.handlers), logger.propagate, list(root.handlers))
    logger.setLevel(logging.NOTSET)
    logger.handlers = []
    logger.propagate = True
    yield logger
    logger.setLevel(saved[0])
    logger.handlers = saved[1]
    logger.propagate = saved[2]
    root.handlers = saved[3]


def clear_root_handlers() -> None:
    """No handler anywhere (pytest adds its own to the root while a test runs)."""
    logging.getLogger().handlers = []


def traced_app(**options) -> Flask:
    app = Flask("svc")
    Tracing(app, **options)

    @app.route("/")
    def index():
        app.logger.warning("inside the view")
        return "ok"

    return app


def test_without_any_logging_setup_events_go_to_stderr_as_json(pristine_logging, capsys):
    clear_root_handlers()
    app = traced_app()
    assert pristine_logging.level == logging.INFO
    (handler,) = pristine_logging.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert isinstance(handler.formatter, traced.JsonFormatter)
    assert handler.stream is sys.stderr

    app.test_client().get("/", headers={"traceid": "out-of-box"})
    lines = capsys.readouterr().err.splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["event_des"] for e in events] == ["start", "end"]
    assert {e["traceid"] for e in events} == {"out-of-box"}


def test_second_app_adds_no_second_handler(pristine_logging):
    clear_root_handlers()
    traced_app()
    traced_app()
    assert len(pristine_logging.handlers) == 1


def test_handlers_on_the_root_logger_are_used_and_none_added(pristine_logging):
    clear_root_handlers()
    stream = io.StringIO()
    logging.getLogger().addHandler(logging.StreamHandler(stream))
    traced_app().test_client().get("/")
    assert pristine_logging.handlers == []
    assert pristine_logging.level == logging.INFO
    assert '"event_des": "start"' in stream.getvalue()


def test_a_level_the_app_set_is_kept(pristine_logging):
    pristine_logging.setLevel(logging.WARNING)
    pristine_logging.addHandler(logging.NullHandler())
    traced_app()
    assert pristine_logging.level == logging.WARNING
    assert len(pristine_logging.handlers) == 1


@pytest.fixture
def app_log():
    """A JSON handler with TraceIdFilter on the app's own loggers, as a user would set it up."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(traceid)s %(name)s %(message)s"))
    handler.addFilter(traced.TraceIdFilter())
    json_stream = io.StringIO()
    json_handler = logging.StreamHandler(json_stream)
    json_handler.setFormatter(traced.JsonFormatter())
    logger = logging.getLogger("svc")
    logger.addHandler(handler)
    logger.addHandler(json_handler)
    yield stream, json_stream
    logger.removeHandler(handler)
    logger.removeHandler(json_handler)


def test_app_logger_records_in_a_request_carry_the_trace_id(app_log):
    text, jsonl = app_log
    traced_app().test_client().get("/", headers={"traceid": "plain-1"})
    assert text.getvalue() == "plain-1 svc inside the view\n"
    record = json.loads(jsonl.getvalue())
    assert (record["traceid"], record["message"], record["level"]) == (
        "plain-1",
        "inside the view",
        "WARNING",
    )


def test_app_logger_records_outside_a_request_have_no_trace_id(app_log):
    text, jsonl = app_log
    app = traced_app()
    app.logger.warning("at start-up")
    assert text.getvalue() == "- svc at start-up\n"
    assert json.loads(jsonl.getvalue())["traceid"] is None
