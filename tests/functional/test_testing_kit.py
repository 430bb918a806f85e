"""The testing kit's own helpers, used as a user's tests use them."""

from __future__ import annotations

import pytest
import requests

import traced_http as traced
from traced_http.testing import capture_events, events_of, intercept_calls, route_to_app, serve_app


def test_intercept_calls_keeps_the_blocks_calls_in_the_process(make_app):
    billing = make_app("billing")
    served: list[str] = []

    @billing.route("/ping")
    def ping():
        served.append("ping")
        return "pong"

    with serve_app(billing) as billing_url:
        with capture_events() as events, intercept_calls() as rsps:
            route_to_app(rsps, "http://billing.test", billing)
            route_to_app(rsps, "http://never.test", billing)  # a route left unused is no error
            assert traced.get("http://billing.test/ping").text == "pong"
            with pytest.raises(requests.ConnectionError):
                traced.get(f"{billing_url}/ping")  # no route: refused, though a server listens
            assert served == ["ping"]
        assert traced.get(f"{billing_url}/ping").text == "pong"  # after the block: the network
        assert served == ["ping", "ping"]

    answered, refused = events_of(events, "call")
    assert answered["msg_dict"]["status_code"] == 200
    assert refused["msg_dict"]["error"]["type"] == "ConnectionError"
