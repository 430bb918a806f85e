"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from flask import Flask

from flask_hooks import Tracing
from traced_http.testing import capture_events


@pytest.fixture(autouse=True)
def _quiet_events() -> Iterator[None]:
    """Keep events off stderr (the extension's default handler) during tests.

    Tests read events through ``capture_events``; the logger's state is restored after.
    """
    logger = logging.getLogger("traced_http")
    saved = (logger.level, list(logger.handlers), logger.propagate)
    logger.handlers = [logging.NullHandler()]
    logger.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    yield
    logger.setLevel(saved[0])
    logger.handlers = saved[1]
    logger.propagate = saved[2]


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    """The events written during the test, parsed from the JSON lines."""
    with capture_events() as captured:
        yield captured


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    """A Flask app with tracing on: ``make_app("orders", body_limit=64)``."""

    def make(name: str = "svc", **options: Any) -> Flask:
        app = Flask(name)
        Tracing(app, **options)
        return app

    return make
