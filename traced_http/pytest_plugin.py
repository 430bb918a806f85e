"""pytest plugin (registered by the ``pytest11`` entry point): tracing fixtures.

``trace_events``: the events written during the test. ``traced_responses``: an active
``responses.RequestsMock`` (pair it with ``route_to_app`` to chain apps in process).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from traced_http.testing import capture_events


@pytest.fixture
def trace_events() -> Iterator[list[dict[str, Any]]]:
    """The events written during this test, as dicts, in the order they were written."""
    with capture_events() as events:
        yield events


@pytest.fixture
def traced_responses() -> Iterator[Any]:
    """A ``responses.RequestsMock`` active for the test; unmatched calls fail the test."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
