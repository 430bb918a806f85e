"""The ways a service calls out, for tests that run each of them."""

from __future__ import annotations

from typing import Any

import requests

import traced_http as traced


def adapter_session(**options: Any) -> requests.Session:
    """A plain ``requests.Session`` (an SDK's) with ``TracingAdapter(**options)`` mounted."""
    session = requests.Session()
    adapter = traced.TracingAdapter(**options)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
