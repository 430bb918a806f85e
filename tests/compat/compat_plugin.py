"""pytest plugin loaded into an upstream suite's run (``-p compat_plugin``).

``TRACED_HTTP_COMPAT_MODE`` says what tracing is switched on before any test runs:
``plain`` (nothing), ``session`` (``TracedSession`` in place of ``requests.Session`` and
``requests.session``), ``adapter`` (a ``TracingAdapter`` mounted on every new session),
``flask`` (``Tracing`` on every ``Flask`` app). Every event is written, as the JSON line
``JsonFormatter`` makes, to ``TRACED_HTTP_COMPAT_EVENTS``; each test's outcome to
``TRACED_HTTP_COMPAT_OUTCOMES`` (a JSON object, node id to passed/failed/skipped).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from typing import Any

import pytest

MODE = os.environ.get("TRACED_HTTP_COMPAT_MODE", "plain")
_outcomes: dict[str, str] = {}


def _trace_requests_sessions() -> None:
    import requests
    import requests.sessions

    import traced_http as traced

    requests.Session = requests.sessions.Session = traced.TracedSession  # type: ignore[misc]

    def session() -> traced.TracedSession:
        return traced.TracedSession()

    requests.session = requests.sessions.session = session


def _mount_on_every_session() -> None:
    import requests

    import traced_http as traced

    original = requests.Session.__init__

    @functools.wraps(original)
    def init(self: requests.Session) -> None:
        original(self)
        self.mount("https://", traced.TracingAdapter())
        self.mount("http://", traced.TracingAdapter())

    requests.Session.__init__ = init  # type: ignore[method-assign]


def _trace_every_flask_app() -> None:
    import flask

    from flask_hooks import Tracing

    original = flask.Flask.__init__

    @functools.wraps(original)
    def init(self: flask.Flask, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        Tracing(self)

    flask.Flask.__init__ = init  # type: ignore[method-assign]


_INSTALL = {
    "plain": lambda: None,
    "session": _trace_requests_sessions,
    "adapter": _mount_on_every_session,
    "flask": _trace_every_flask_app,
}


def pytest_configure(config: pytest.Config) -> None:
    _INSTALL[MODE]()
    path = os.environ.get("TRACED_HTTP_COMPAT_EVENTS")
    if path:
        from traced_http import JsonFormatter

        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(JsonFormatter())
        logger = logging.getLogger("traced_http")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    expected_failure = hasattr(report, "wasxfail")
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped:
        _outcomes.setdefault(report.nodeid, "xfailed" if expected_failure else "skipped")
    elif report.when == "call":
        _outcomes.setdefault(report.nodeid, "xpassed" if expected_failure else "passed")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("TRACED_HTTP_COMPAT_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_outcomes, out, indent=0, sort_keys=True)
