"""The benchmark compares like with like: every variant answers the same requests the same way.

Not a timed test: it only checks that the apps and clients the benchmark times are
interchangeable, so that a difference in the tables is the cost of tracing.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("opentelemetry.instrumentation.flask", reason="needs the bench extra")
pytest.importorskip("flask_log_request_id", reason="needs the bench extra")

from benchmarks import harness, inbound, outbound
from benchmarks.apps import EVENTS_PER_REQUEST, INBOUND_VARIANTS

BENCH_LOGGERS = ("traced_http", "bench.recipe", "flask_log_request_id.request_id")


@pytest.fixture(scope="module", autouse=True)
def _restore_global_state():
    """The benchmark rewires loggers and the default session: undo it after this module."""
    import traced_http

    loggers = [logging.getLogger(name) for name in BENCH_LOGGERS]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)
    traced_http.set_default_session(None)


@pytest.fixture(autouse=True)
def _discarding_handlers():
    """The suite's own fixtures swap the ``traced_http`` logger's handlers: put ours back."""
    harness.reattach_handlers()


@pytest.fixture(scope="module")
def apps():
    built, _missing = inbound.build_apps()
    return built


def test_every_inbound_variant_answers_like_bare_flask(apps):
    assert set(apps) == set(INBOUND_VARIANTS)
    assert inbound.check_same_responses(apps) == []


def test_every_logging_variant_writes_its_events(apps):
    for variant in ("traced", "traced_nobody", "recipe", "flrid"):
        assert inbound.events_per_request(apps[variant]) == EVENTS_PER_REQUEST[variant], variant
    assert inbound.events_per_request(apps["otel"]) == 1  # one span per request


def test_every_outbound_client_gets_the_canned_response():
    cases, expected, handler, _missing = outbound.build_cases()
    for case in cases:
        with case.batch():
            response = case.call()
        assert response.status_code == 200, case.name
        assert response.content == outbound.BODY, case.name
    assert handler is not None, "traced-http is not importable"
    assert set(expected) == {case.name for case in cases if case.name.startswith("traced_http")}
    for case in cases:
        if case.name in expected:
            assert outbound.events_per_call(case, handler) == expected[case.name], case.name
