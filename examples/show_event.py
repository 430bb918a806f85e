"""Print the ``start`` event of one request, indented: what the README shows.

A POST with a query token, an ``Authorization`` header, a client's ``X-Request-ID`` and a
JSON body holding a password: the event keeps the id and redacts the secrets. The body
itself is described in the ``end`` event, as far as the view read it.

    python examples/show_event.py
"""

from __future__ import annotations

import json
import logging

from flask import Flask, request

from flask_hooks import Tracing
from traced_http.testing import capture_events

logging.getLogger("traced_http").addHandler(logging.NullHandler())  # printed below instead
app = Flask("orders")
Tracing(app)
app.add_url_rule(
    "/orders", "create", lambda: ({"item": request.json["item"]}, 201), methods=["POST"]
)

if __name__ == "__main__":
    with capture_events() as events:
        app.test_client().post(
            "/orders?access_token=abc",
            json={"item": "a", "password": "hunter2"},
            headers={"Authorization": "Bearer xyz", "X-Request-ID": "req-391"},
        )
    print(json.dumps(events[0], indent=2))
