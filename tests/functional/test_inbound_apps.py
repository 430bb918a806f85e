"""The ways Flask apps are built: async views, blueprints, the app factory, the test client."""

from __future__ import annotations

import importlib.util

import pytest
from flask import Blueprint, Flask, abort, g

import traced_http as traced
from flask_hooks import Tracing
from traced_http.testing import events_of

needs_asgiref = pytest.mark.skipif(
    importlib.util.find_spec("asgiref") is None,
    reason="Flask runs async views through asgiref (pip install asgiref)",
)


@needs_asgiref
def test_async_view_runs_inside_the_trace(make_app, trace_events):
    app = make_app("svc")

    @app.route("/")
    async def index():
        traced.add_event("awaited", {"step": 1})
        return {"traceid": traced.current_traceid(), "g": g.traceid}

    response = app.test_client().get("/", headers={"traceid": "async-1"})
    assert response.json == {"traceid": "async-1", "g": "async-1"}
    assert [e["event_des"] for e in trace_events] == ["start", "awaited", "end"]
    assert {e["traceid"] for e in trace_events} == {"async-1"}
    assert traced.current_trace() is None


@needs_asgiref
def test_async_view_that_raises_still_ends_the_trace(make_app, trace_events):
    app = make_app("svc")

    @app.route("/")
    async def index():
        raise LookupError("gone")

    assert app.test_client().get("/").status_code == 500
    assert trace_events[-1]["msg_dict"]["error"] == {"type": "LookupError", "message": "gone"}
    assert traced.current_trace() is None


def test_blueprint_routes_are_traced(make_app, trace_events):
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.route("/items")
    def items():
        return {"traceid": traced.current_traceid()}

    app = make_app("svc")
    app.register_blueprint(api)
    response = app.test_client().get("/api/items", headers={"X-Request-ID": "bp-1"})
    assert response.json == {"traceid": "bp-1"}
    assert events_of(trace_events, "start")[0]["msg_dict"]["path"] == "/api/items"


def test_blueprint_registered_before_tracing_is_traced_too(trace_events):
    api = Blueprint("api", __name__)

    @api.route("/")
    def index():
        return "ok"

    app = Flask("svc")
    app.register_blueprint(api)
    Tracing(app)
    app.test_client().get("/")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


tracing = Tracing(service="factory-made")


def create_app(config=None) -> Flask:
    """The app factory pattern: one module-level extension, init_app per app."""
    app = Flask("factory")
    app.config.update(config or {})
    tracing.init_app(app)

    @app.route("/")
    def index():
        return g.traceid

    return app


def test_app_factory_pattern(trace_events):
    first = create_app()
    second = create_app({"TRACE_RESPONSE_HEADER": "X-Id"})
    assert first.test_client().get("/", headers={"traceid": "f-1"}).headers["traceid"] == "f-1"
    assert second.test_client().get("/", headers={"traceid": "f-2"}).headers["X-Id"] == "f-2"
    assert {e["service"] for e in trace_events} == {"factory-made"}
    assert [e["traceid"] for e in trace_events] == ["f-1", "f-1", "f-2", "f-2"]


def test_test_client_session_of_several_requests(make_app, trace_events):
    app = make_app("svc")

    @app.route("/<int:n>")
    def index(n):
        return str(n)

    with app.test_client() as client:
        ids = [client.get(f"/{n}").headers["traceid"] for n in range(3)]
    assert len(set(ids)) == 3
    assert [e["traceid"] for e in events_of(trace_events, "end")] == ids


def test_a_request_aborted_by_a_url_value_preprocessor_is_traced(make_app, trace_events):
    app = make_app()

    @app.url_value_preprocessor
    def tenant(endpoint, values):
        if values and values.get("tenant") != "acme":
            abort(404)

    @app.errorhandler(404)
    def not_found(error):
        return {"traceid": g.get("traceid")}, 404

    app.get("/<tenant>/orders")(lambda tenant: "orders")

    response = app.test_client().get("/evil/orders")

    assert response.status_code == 404
    assert response.json["traceid"] == response.headers["traceid"]
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    assert trace_events[1]["msg_dict"]["status_code"] == 404
