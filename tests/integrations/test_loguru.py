"""loguru: the patcher puts the active trace in every record's extra (real loguru)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import jsonify

import traced_http as traced
from traced_http.loguru import add_trace_context
from traced_http.testing import serve_app

loguru = pytest.importorskip("loguru")
logger = loguru.logger


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """loguru configured with the patcher, a plain-format sink and a JSON one."""
    plain: list[str] = []
    logger.configure(patcher=add_trace_context)
    sink = logger.add(
        plain.append, format="{extra[traceid]} {extra[span_id]} {extra[service]} {message}"
    )
    yield plain
    logger.remove(sink)
    logger.configure(patcher=lambda record: None)


def test_record_inside_a_trace_has_its_ids(lines):
    with traced.trace("job", settings=traced.TraceSettings(service="jobs")) as ctx:
        logger.info("working")

    assert lines == [f"{ctx.trace_id} {ctx.span_id} jobs working\n"]


def test_record_outside_any_trace_still_formats(lines):
    logger.info("idle")

    assert lines == ["None None None idle\n"]


def test_bound_values_win(lines):
    with traced.trace("job") as ctx:
        logger.bind(traceid="mine").info("x")

    assert lines == [f"mine {ctx.span_id} python x\n"]


def test_serialized_record_carries_the_request_trace(lines, make_app):
    serialized: list[str] = []
    sink = logger.add(serialized.append, serialize=True)
    app = make_app("orders")

    @app.route("/")
    def index() -> Any:
        logger.info("handling")
        return jsonify(ok=True)

    try:
        with serve_app(app) as url:
            response = requests.get(url, timeout=10)
    finally:
        logger.remove(sink)

    (line,) = serialized
    extra = json.loads(line)["record"]["extra"]
    assert extra["traceid"] == response.headers["traceid"]
    assert extra["service"] == "orders"
