"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from flask import Flask
from log_lines import WrittenLines

from flask_hooks import Tracing
from traced_http import JsonFormatter

# Secrets planted by tests (tests/reliability/test_secrets*.py) all start with this; no
# log line written during the whole run may hold one (checked at the end of the session).
PLANTED_SECRET_MARKER = "s3cr3t-PLANTED"


class SecretScan(logging.Filter):
    """Formats every record as the JSON log line it becomes, and keeps those holding a secret.

    A filter on the ``traced_http`` logger (it survives ``_quiet_events`` swapping the
    handlers) and a handler on the root logger (for every other logger's records), for
    the whole session. Only offending lines are kept, so a long run costs no memory.
    """

    def __init__(self) -> None:
        super().__init__()
        self.formatter = JsonFormatter()
        self.markers = [PLANTED_SECRET_MARKER]
        self.offending: list[str] = []
        self.handler = _ScanHandler(self)

    def filter(self, record: logging.LogRecord) -> bool:
        self.scan(record)
        return True

    def scan(self, record: logging.LogRecord) -> None:
        try:
            line = self.formatter.format(record)
        except Exception as exc:  # a formatter failure is a finding too
            line = f"<unformattable record {record.name}: {exc!r}>"
            self.offending.append(line)
        if any(marker in line for marker in self.markers):
            self.offending.append(line)

    def install(self) -> None:
        logging.getLogger("traced_http").addFilter(self)
        logging.getLogger().addHandler(self.handler)

    def uninstall(self) -> None:
        logging.getLogger("traced_http").removeFilter(self)
        logging.getLogger().removeHandler(self.handler)


class _ScanHandler(logging.Handler):
    """The root logger's side of the scan: records of every logger but ``traced_http``."""

    def __init__(self, scan: SecretScan) -> None:
        super().__init__()
        self.scanner = scan

    def emit(self, record: logging.LogRecord) -> None:
        if record.name != "traced_http":  # already scanned by the logger's filter
            self.scanner.scan(record)


_secret_scan = SecretScan()


@pytest.fixture(scope="session", autouse=True)
def secret_scan() -> Iterator[SecretScan]:
    """The session-wide scan of every log line for planted secrets."""
    _secret_scan.install()
    yield _secret_scan
    _secret_scan.uninstall()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run, showing the lines, when any log line held a planted secret."""
    if not _secret_scan.offending:
        return
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("=", "planted secrets found in log lines", red=True, bold=True)
        for line in _secret_scan.offending[:50]:
            reporter.write_line(line[:2000])
        reporter.write_line(f"{len(_secret_scan.offending)} offending line(s) in all")


@pytest.fixture(autouse=True)
def _quiet_events() -> Iterator[None]:
    """Keep events off stderr (the extension's default handler) during tests.

    Tests read events through the ``trace_events`` fixture; the logger's state is restored after.
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
def written_lines() -> Iterator[WrittenLines]:
    """What the ``traced_http`` logger writes during the test, as a log file would hold it."""
    handler = WrittenLines()
    logger = logging.getLogger("traced_http")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def make_app() -> Callable[..., Flask]:
    """A Flask app with tracing on: ``make_app("orders", body_limit=64)``."""

    def make(name: str = "svc", **options: Any) -> Flask:
        app = Flask(name)
        Tracing(app, **options)
        return app

    return make
