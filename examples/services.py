"""The recipe's example services, written with traced-http: gateway -> hello.

The gateway keeps the blog's three endpoints (``/``, ``/test?name=...``, ``/test2``
POST JSON); its calls to the ``hello`` service carry the trace with no header written
by hand. Run one with ``flask --app examples.services:create_gateway run``.
"""

from __future__ import annotations

import os

from flask import Flask, g, request

import traced_http as traced
from flask_hooks import Tracing


def create_hello() -> Flask:
    """The downstream service: answers ``Hello, World!``."""
    app = Flask("hello")
    Tracing(app, service="hello")

    @app.route("/")
    def hello_world() -> str:
        return "Hello, World!"

    return app


def create_gateway(hello_url: str = "") -> Flask:
    """The recipe's service; it calls ``hello`` at ``hello_url`` (or $HELLO_URL)."""
    app = Flask("gateway")
    app.config["HELLO_URL"] = hello_url or os.environ.get("HELLO_URL", "http://127.0.0.1:5001")
    Tracing(app, service="gateway")

    @app.route("/")
    def hello_world() -> str:
        return "Hello, World!"

    @app.route("/test")
    def test() -> str:
        name = request.args.get("name", "")
        traced.add_event("calling hello", {"name": name})
        hello = traced.get(app.config["HELLO_URL"] + "/")
        return name + hello.text

    @app.route("/test2", methods=["POST"])
    def test2() -> str:
        body = request.get_json(silent=True) or {}
        hello = traced.get(app.config["HELLO_URL"] + "/")
        app.logger.info("test2 for %s in trace %s", body.get("name"), g.traceid)
        return str(body.get("name", "")) + hello.text

    return app
