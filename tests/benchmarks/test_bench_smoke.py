"""The benchmark compares like with like: every variant answers the same requests the same way.

Not a timed test: it only checks that the apps and clients the benchmark times are
interchangeable, so that a difference in the tables is the cost of tracing.
"""

from __future__ import annotations

import pytest

pytest.importorskip("opentelemetry.instrumentation.flask", reason="needs the bench extra")
pytest.importorskip("flask_log_request_id", reason="needs the bench extra")

from benchmarks import inbound, outbound
from benchmarks.apps import EVENTS_PER_REQUEST


@pytest.fixture(scope="module")
def apps():
    built, _missing = inbound.build_apps()
    return built


def test_every_inbound_variant_answers_like_bare_flask(apps):
    assert {"bare", "recipe", "flrid", "otel"} <= set(apps)
    assert inbound.check_same_responses(apps) == []


def test_every_logging_variant_writes_its_events(apps):
    for variant, app in apps.items():
        if variant not in ("bare", "otel"):
            assert inbound.events_per_request(app) == EVENTS_PER_REQUEST[variant], variant
    assert inbound.events_per_request(apps["otel"]) == 1


def test_every_outbound_client_gets_the_canned_response():
    cases, expected, handler, _missing = outbound.build_cases()
    for case in cases:
        with case.batch():
            response = case.call()
        assert response.status_code == 200, case.name
        assert response.content == outbound.BODY, case.name
        if handler is not None and case.name in expected:
            assert outbound.events_per_call(case, handler) == expected[case.name], case.name
