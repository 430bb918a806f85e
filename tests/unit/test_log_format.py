"""Log lines: one JSON object per line, whatever the data; ``%(traceid)s`` on any record."""

from __future__ import annotations

import datetime
import io
import json
import logging

import pytest

import traced_http as traced
from traced_http.schema import FIELDS


@pytest.fixture
def lines(written_lines):
    """The JSON lines written on the ``traced_http`` logger during the test."""
    return written_lines.formatted


def reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def parse_one(line: str) -> dict:
    """Strict JSON (no NaN or Infinity, which many log pipelines refuse), on one line."""
    assert "\n" not in line
    return json.loads(line, parse_constant=reject_constant)


class BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    __str__ = __repr__


def circular() -> dict:
    value: dict = {"name": "loop"}
    value["self"] = value
    return value


ODD_VALUES = [
    pytest.param(b"\xffbytes\n", id="bytes"),
    pytest.param(datetime.datetime(2026, 6, 2, 7, 31), id="datetime"),
    pytest.param({1, 2}, id="set"),
    pytest.param(circular(), id="circular"),
    pytest.param(BadRepr(), id="repr-raises"),
    pytest.param("x\n" * 1_000_000, id="huge-string-with-newlines"),
    pytest.param(object(), id="object"),
    pytest.param({("tuple", "key"): 1}, id="non-string-key"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="infinity"),
]


@pytest.mark.parametrize("value", ODD_VALUES)
def test_add_event_with_odd_values_writes_one_valid_json_line(lines, active, value):
    traced.add_event("odd", {"value": value, "ok": 1})
    (line,) = lines
    event = parse_one(line)
    assert event["event_des"] == "odd"
    assert event["traceid"] == "a" * 32
    assert event["msg_dict"]["ok"] == 1
    assert len(line) < 100_000


@pytest.mark.parametrize("value", ODD_VALUES)
def test_add_event_outside_a_trace_never_raises(lines, value):
    traced.add_event("odd", {"value": value})
    event = parse_one(lines[0])
    assert event["traceid"] is None
    assert event["event_des"] == "odd"


def test_add_event_numbers_events_within_the_span(lines, active):
    traced.add_event("first", {"n": 1})
    traced.trace_add_log_record("second", {"n": 2}, remarks="legacy name")
    first, second = (parse_one(line) for line in lines)
    assert (first["trace_index"], second["trace_index"]) == (1, 2)
    assert first["span_id"] == second["span_id"] == "b" * 16
    assert first["parent_id"] == "c" * 16
    assert second["remarks"] == "legacy name"


def test_add_event_redacts_secret_fields(lines, active):
    traced.add_event("login", {"user": "ann", "creds": {"password": "hunter2"}})
    assert "hunter2" not in lines[0]
    assert parse_one(lines[0])["msg_dict"]["creds"]["password"] == "[REDACTED]"


def test_event_keys_come_in_the_documented_order(lines, active):
    traced.add_event("step", {"a": 1})
    assert tuple(parse_one(lines[0])) == FIELDS


def test_event_timestamp_is_iso_utc_with_microseconds(lines, active):
    traced.add_event("step")
    ts = parse_one(lines[0])["ts"]
    assert datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")


def plain_record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("app", logging.INFO, __file__, 1, msg, args, None)


def test_plain_record_gets_the_active_trace_id(active):
    line = traced.JsonFormatter().format(plain_record("hello %s", "ann"))
    record = parse_one(line)
    assert record["message"] == "hello ann"
    assert (record["traceid"], record["span_id"]) == ("a" * 32, "b" * 16)
    assert record["level"] == "INFO"


def test_plain_record_outside_a_trace_has_null_trace_id():
    record = parse_one(traced.JsonFormatter().format(plain_record("hello")))
    assert record["traceid"] is None


def test_plain_record_with_bad_arguments_still_gives_a_line():
    record = parse_one(traced.JsonFormatter().format(plain_record("%d apples", "many")))
    assert "apples" in record["message"]


def test_plain_record_with_exception_is_one_line(active):
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        rec = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record = parse_one(traced.JsonFormatter().format(rec))
    assert "ValueError: bad" in record["exc_info"]


def filtered_line(fmt: str = "%(traceid)s %(message)s") -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(traced.TraceIdFilter())
    logger = logging.getLogger("tests.any_logger")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("hello")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def test_trace_id_filter_puts_the_id_on_any_loggers_records(active):
    assert filtered_line("%(traceid)s %(span_id)s %(message)s") == f"{'a' * 32} {'b' * 16} hello\n"


def test_trace_id_filter_outside_a_trace_gives_a_dash():
    assert filtered_line() == "- hello\n"
