"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import traced_http as traced
from traced_http.context import activate, deactivate


@pytest.fixture
def active() -> Iterator[traced.TraceContext]:
    """A trace (service ``svc``) made active for the test, and reset after it."""
    ctx = traced.TraceContext(
        trace_id="a" * 32,
        span_id="b" * 16,
        parent_id="c" * 16,
        settings=traced.TraceSettings(service="svc"),
    )
    token = activate(ctx)
    yield ctx
    deactivate(token)
