"""The adversarial benchmark compares like with like: each hostile input gets the same answer
traced and untraced, so that a difference in its table is the cost of tracing.

Not a timed test: the figures come from ``python -m benchmarks.adversarial``.
"""

from __future__ import annotations

import pytest

from benchmarks import adversarial, harness
from benchmarks.apps import create_app

pytestmark = pytest.mark.usefixtures("restore_traced_logger")


@pytest.fixture(scope="module")
def apps():
    return create_app("bare"), create_app("traced")


@pytest.mark.parametrize("name", list(adversarial.INBOUND))
def test_each_hostile_request_gets_the_same_answer_traced(apps, name):
    bare, traced = apps
    spec = adversarial.INBOUND[name]
    expected = adversarial._wsgi_call(bare, spec).fetch()
    got = adversarial._wsgi_call(traced, spec).fetch()
    assert (got.status, got.body) == (expected.status, expected.body)


@pytest.mark.parametrize("name", list(adversarial.OUTBOUND))
def test_each_hostile_answer_reaches_the_caller_traced(name):
    harness.reattach_handlers()
    plain, traced = adversarial._outbound_cases(name)
    expected, got = plain.call(), traced.call()
    assert (got.status_code, got.headers) == (expected.status_code, expected.headers)
    if not adversarial.OUTBOUND[name][3]:  # not streamed: the body was read
        assert got.content == expected.content
