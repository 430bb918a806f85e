"""Logging must never break a request, and an event is always one valid, bounded line."""

from __future__ import annotations

import errno
import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from flask import Flask, jsonify, request

import flask_hooks.extension
import traced_http as traced
import traced_http.events
from traced_http.log_format import LOGGER_NAME

LINE_LIMIT = 64 * 1024


class DiskFull(logging.Handler):
    """A handler whose every write fails as on a full disk."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.calls += 1
        raise OSError(errno.ENOSPC, "No space left on device")


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def last_resort(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    """``logging.lastResort`` replaced by a recorder, and a fresh failure reporter.

    The reporter reports once per few minutes per process: a fresh one makes this test
    independent of any earlier handler failure in the session.
    """
    recorder = Recorder()
    monkeypatch.setattr(logging, "lastResort", recorder)
    monkeypatch.setattr(traced_http.events, "_failures", traced_http.events._FailureReporter())
    yield recorder


def _app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app("svc", response_header=None)

    @app.route("/orders", methods=["POST"])
    def orders() -> Any:
        traced.add_event("computed", {"n": 1})
        return jsonify(received=request.get_json(), ok=True), 201, {"X-Mine": "yes"}

    return app


def _post(app: Flask) -> Any:
    return app.test_client().post("/orders", json={"item": "book", "qty": 2})


def test_a_failing_log_handler_leaves_the_response_unchanged_and_is_reported_once(
    make_app: Callable[..., Flask], last_resort: Recorder
) -> None:
    app = _app(make_app)
    reference = _post(app)

    failing = DiskFull()
    logging.getLogger(LOGGER_NAME).addHandler(failing)
    responses = [_post(app) for _ in range(20)]

    assert failing.calls >= 20 * 3  # start, user event, end of every request were tried
    for response in responses:
        assert response.status_code == reference.status_code
        assert response.get_data() == reference.get_data()
        assert sorted(response.headers.items()) == sorted(reference.headers.items())
    assert len(last_resort.records) == 1
    (report,) = last_resort.records
    assert report.levelno >= logging.ERROR
    assert "traced_http" in report.getMessage()
    assert report.exc_info is not None
    assert isinstance(report.exc_info[1], OSError)
    assert report.exc_info[1].errno == errno.ENOSPC


def test_a_failing_log_handler_does_not_break_outbound_calls_or_user_events(
    last_resort: Recorder,
) -> None:
    logging.getLogger(LOGGER_NAME).addHandler(DiskFull())
    with traced.trace("job"):
        traced.add_event("step", {"a": 1})
    assert len(last_resort.records) == 1


class Raising(logging.Handler):
    """A handler that raises on every record (a bug in the app's own handler)."""

    def emit(self, record: logging.LogRecord) -> None:
        raise RuntimeError("handler bug")


def _fail_to_build(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("a bug in message building")


@pytest.mark.parametrize("builder", ["start_message", "end_message"])
def test_a_raising_handler_and_a_capture_failure_together_leave_the_response_unchanged(
    make_app: Callable[..., Flask],
    monkeypatch: pytest.MonkeyPatch,
    last_resort: Recorder,
    builder: str,
) -> None:
    """The capture failure is reported to ``traced_http.internal``, whose record reaches
    the same raising handler: that report must not escape into the request either."""
    app = _app(make_app)
    reference = _post(app)
    monkeypatch.setattr(flask_hooks.extension, builder, _fail_to_build)
    monkeypatch.setattr(traced_http.events, "_internal", traced_http.events._InternalErrors())
    logging.getLogger(LOGGER_NAME).addHandler(Raising())

    responses = [_post(app) for _ in range(3)]

    for response in responses:
        assert response.status_code == reference.status_code == 201
        assert response.get_data() == reference.get_data()
    assert len(last_resort.records) == 1


def test_a_raising_log_record_factory_leaves_the_response_unchanged(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, last_resort: Recorder
) -> None:
    app = _app(make_app)
    reference = _post(app)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        raise RuntimeError("record factory bug")

    monkeypatch.setattr(traced_http.events, "_internal", traced_http.events._InternalErrors())
    monkeypatch.setattr(flask_hooks.extension, "end_message", _fail_to_build)
    saved = logging.getLogRecordFactory()
    logging.setLogRecordFactory(factory)
    try:
        response = _post(app)
    finally:
        logging.setLogRecordFactory(saved)

    assert response.status_code == reference.status_code == 201
    assert response.get_data() == reference.get_data()
    assert len(last_resort.records) == 1


class FullDisk(io.StringIO):
    """A stream on a full disk, as a ``FileHandler``'s file is: every write fails."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.xfail(
    strict=True,
    reason="a stdlib StreamHandler/FileHandler catches its own write error and calls "
    "handleError, which prints a traceback to stderr for every event: the library never "
    "sees the failure, so it cannot report it once",
)
def test_a_file_handler_on_a_full_disk_is_reported_once_not_for_every_event(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch, last_resort: Recorder
) -> None:
    app = _app(make_app)
    reference = _post(app)
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    logging.getLogger(LOGGER_NAME).addHandler(logging.StreamHandler(FullDisk()))

    responses = [_post(app) for _ in range(20)]

    assert all(r.get_data() == reference.get_data() for r in responses)
    reports = stderr.getvalue().count("--- Logging error ---") + len(last_resort.records)
    assert reports == 1


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr failed")

    __str__ = __repr__


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str failed")


def _cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {"name": "loop"}
    loop["self"] = loop
    items: list[Any] = [1]
    items.append(items)
    loop["items"] = items
    return loop


HOSTILE: dict[str, Any] = {
    "circular": _cycle(),
    "huge_string": "x" * 5_000_000,
    "bytes": b"\x00\xff\xfe binary \n" * 1000,
    "bad_repr": BadRepr(),
    "bad_repr_key": {BadRepr(): "value"},
    "unprintable_exception": Unprintable(),
    "nan": float("nan"),
    "deep": None,
    "many_items": list(range(100_000)),
    "set": {1, 2, 3},
}


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {}
    root = node
    for _ in range(levels):
        node["next"] = {}
        node = node["next"]
    return root


HOSTILE["deep"] = _deep(5000)


def _capture_lines(action: Callable[[], None]) -> list[str]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(traced.JsonFormatter())
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(handler)
    logger.propagate = False  # only this handler: other handlers are not under test
    try:
        action()
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("kind", sorted(HOSTILE))
@pytest.mark.parametrize("where", ["in_trace", "outside_trace"])
def test_a_hostile_msg_dict_still_writes_one_valid_bounded_line(kind: str, where: str) -> None:
    def action() -> None:
        if where == "in_trace":
            with traced.trace("job"):
                traced.add_event("hostile", {"value": HOSTILE[kind]}, remarks="r")
        else:
            traced.add_event("hostile", {"value": HOSTILE[kind]}, remarks="r")

    written = _capture_lines(action)

    hostile = [line for line in written if '"event_des": "hostile"' in line]
    assert len(hostile) == 1, written
    (line,) = hostile
    assert len(line) < LINE_LIMIT
    event = json.loads(line, parse_constant=_refuse_constant)
    assert event["event_des"] == "hostile"
    assert "value" in event["msg_dict"]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def test_a_user_event_whose_whole_msg_dict_is_hostile_is_still_written() -> None:
    written = _capture_lines(lambda: traced.add_event("odd", HOSTILE["circular"]))
    (line,) = written
    event = json.loads(line)
    assert event["msg_dict"]["self"] == "[circular]"


def test_an_ordinary_log_record_with_hostile_arguments_is_one_valid_line() -> None:
    def action() -> None:
        log = logging.getLogger(LOGGER_NAME)
        log.warning("values: %s %s %s", BadRepr(), "line1\nline2", b"\x00" * 10)
        log.warning(BadRepr())
        log.warning("huge %s", "y" * 2_000_000)

    written = _capture_lines(action)
    assert len(written) == 3
    for line in written:
        json.loads(line)
