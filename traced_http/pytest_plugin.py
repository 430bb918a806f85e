"""pytest plugin (registered by the ``pytest11`` entry point): tracing fixtures.

``trace_events``: the events written during the test. ``traced_responses``: the test's
outbound calls kept in the process, ``intercept_calls()`` for the whole test (pair it
with ``route_to_app`` to chain apps in process).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from traced_http.testing import capture_events, intercept_calls

if TYPE_CHECKING:
    import responses


@pytest.fixture
def trace_events() -> Iterator[list[dict[str, Any]]]:
    """The events written during this test, as dicts, in the order they were written."""
    with capture_events() as events:
        yield events


@pytest.fixture
def traced_responses() -> Iterator[responses.RequestsMock]:
    """The ``responses.RequestsMock`` of ``intercept_calls()``, active for the whole test."""
    with intercept_calls() as rsps:
        yield rsps
