"""The instruction-count benchmark measures what it says: every request loop runs and logs
its events, each fast path swapped out is really replaced by its public-API path (and put
back), and the counts become one table with a column per Python.

Not a timed test: the figures come from ``python -m benchmarks.instructions``. Without
valgrind, everything but the count itself is checked.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from typing import Any

import pytest
import requests

from benchmarks import harness, instructions, outbound
from benchmarks.apps import create_app
from benchmarks.harness import WsgiCall
from benchmarks.instructions import OUTBOUND, Count, Measure

pytestmark = pytest.mark.usefixtures("restore_traced_logger")

needs_valgrind = pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="needs valgrind (apt-get install valgrind)"
)


@pytest.fixture(autouse=True)
def _discarding_handlers():
    """The suite's own fixtures swap the ``traced_http`` logger's handlers: put ours back."""
    harness.reattach_handlers()


@pytest.mark.parametrize("measure", instructions.all_measures(), ids=lambda m: m.key)
def test_every_request_loop_runs_and_logs_its_events(measure: Measure) -> None:
    child = instructions.run_child(measure, requests=2, warmup=1)

    if measure.variant in ("bare", "requests"):
        expected = 0  # nothing traced
    else:
        expected = 1 if measure.route == OUTBOUND else 2  # one call event; start and end
    assert child["events_per_request"] == expected
    assert (child["rebound"] > 0) == (measure.without is not None)


def test_a_child_process_reports_as_the_benchmark_reads_it() -> None:
    measure = Measure("POST /echo", "traced", "make_event_record")

    child = instructions.check_child(sys.executable, measure, instructions.child_environment())

    assert child["python"] == ".".join(map(str, sys.version_info[:3]))
    assert child["events_per_request"] == 2


def test_the_children_run_in_a_fixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")

    fixed = instructions.child_environment()
    inherited = instructions.child_environment(inherit=True)

    assert set(fixed) == {"PATH", "PYTHONHASHSEED", "LC_ALL"}
    assert fixed["PYTHONHASHSEED"] == inherited["PYTHONHASHSEED"] == "0"
    assert inherited["HTTP_PROXY"] == "http://proxy.example:3128"
    assert "PYTHONDONTWRITEBYTECODE" not in inherited  # the uncounted run writes bytecode


def _traced_hello(header: str) -> None:
    app = create_app("traced")
    WsgiCall(app, "GET", "/hello", query={"name": "bench"}, headers={header: "1"})()


def test_without_the_header_cache_each_name_is_worked_out_again() -> None:
    from traced_http import fast_paths

    cache = fast_paths.header_names
    with instructions.public_path("header_names"):
        _traced_hello("X-Probe-Public")
    _traced_hello("X-Probe-Fast")

    assert fast_paths.header_names is cache
    assert "HTTP_X_PROBE_PUBLIC" not in cache
    assert cache["HTTP_X_PROBE_FAST"] == "X-Probe-Fast"


class _RecordTypes(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.types: list[type] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.types.append(type(record))


def test_without_the_built_record_events_come_from_make_record() -> None:
    seen = _RecordTypes()
    logging.getLogger("traced_http").addHandler(seen)
    with instructions.public_path("make_event_record"):
        _traced_hello("X-Probe")
    public = list(seen.types)
    _traced_hello("X-Probe")

    assert public == [logging.LogRecord] * 2
    assert len(seen.types) == 4
    assert logging.LogRecord not in seen.types[2:]  # the fast path's own record type


def _counting(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[int]:
    """Count the calls of ``owner.name`` from now on."""
    calls = [0]
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_without_the_reused_encoder_events_go_through_json_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encodes = _counting(monkeypatch, json.JSONEncoder, "encode")
    with instructions.public_path("strict_json"):
        _traced_hello("X-Probe")
    public = encodes[0]
    _traced_hello("X-Probe")

    assert public == 2  # one per event
    assert encodes[0] == public


def test_without_the_cached_settings_requests_merges_them_each_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import traced_http

    merges = _counting(monkeypatch, requests.Session, "merge_environment_settings")
    with instructions.public_path("EnvironmentSettings"):
        session = outbound.canned_traced_session(traced_http.TracedSession())
        for _ in range(3):
            session.get(outbound.URL)
    public = merges[0]
    fast = outbound.canned_traced_session(traced_http.TracedSession())
    for _ in range(3):
        fast.get(outbound.URL)

    assert public == 3
    assert merges[0] == public


def test_a_swapped_fast_path_is_put_back() -> None:
    from flask_hooks import request_events
    from traced_http import events, fast_paths, log_format

    before = (
        fast_paths.header_names,
        request_events.header_name,
        events.make_event_record,
        log_format.strict_json,
    )
    for name in instructions.PUBLIC_PATHS:
        with instructions.public_path(name) as rebound:
            assert rebound > 0
    after = (
        fast_paths.header_names,
        request_events.header_name,
        events.make_event_record,
        log_format.strict_json,
    )
    assert after == before


def _count(python: str, per_request: float) -> Count:
    return Count(per_request, {"python": python, "versions": {"flask": "3"}, "rebound": 1})


def test_the_counts_make_one_table_with_a_column_per_python() -> None:
    counts: dict[str, dict[Measure, Count]] = {}
    for python, scale in (("3.9.18", 1.5), ("3.13.0", 1.0)):
        counts[f"/py{python}"] = by_measure = {}
        for measure in instructions.all_measures():
            base = 3_000_000 if measure.route == OUTBOUND else 400_000
            cost = {"bare": 0, "requests": 0, "traced": 400_000}[measure.variant]
            cost += {None: 0, "strict_json": 2_000}.get(measure.without, 40_000)
            by_measure[measure] = _count(python, (base + cost) * scale)

    text = instructions.render(counts, 40, "python -m benchmarks.instructions")

    assert "| GET /hello, added by tracing | 600,000 | 400,000 |" in text
    assert "Python 3.9.18" in text and "Python 3.13.0" in text
    assert "+60,000 (10.0% of the added)" in text
    assert "under 3%: strict_json, GET /hello, Python 3.9.18: 0.5%" in text


@needs_valgrind
def test_valgrind_counts_instructions_per_request(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    measure = Measure("GET /hello", "bare")

    counts = instructions.run_all([sys.executable], requests=2, jobs=2, measures=[measure])

    per_request = counts[sys.executable][measure].per_request
    assert 10_000 < per_request < 10_000_000  # a Flask request, not start-up
    assert list(tmp_path.iterdir()) == []
