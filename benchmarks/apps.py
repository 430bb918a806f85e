"""One Flask app per variant, all with the same routes, for in-process and gunicorn runs.

Every variant writes its log lines to a :class:`~benchmarks.harness.DiscardHandler`,
never to the terminal, and instruments only its own app. For gunicorn::

    gunicorn "benchmarks.apps:create_app('traced')"
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from flask import Flask, Response, jsonify, request

from benchmarks.harness import DiscardHandler, discard_logger

INBOUND_VARIANTS = ("bare", "empty_hooks", "traced", "traced_nobody", "recipe", "flrid", "otel")
TRACED_VARIANTS = ("traced", "traced_nobody")
LABELS = {
    "bare": "bare Flask",
    "empty_hooks": "empty before/after/teardown hooks (reference: Flask's own cost of hooks)",
    "traced": "traced-http (default)",
    "traced_nobody": "traced-http (capture_bodies=False)",
    "recipe": "blog recipe (its hooks, JSON via logging)",
    "flrid": "Flask-Log-Request-ID + 1 log line",
    "otel": "OpenTelemetry Flask + SDK (in-memory exporter)",
}
EVENTS_PER_REQUEST = {
    "bare": 0,
    "empty_hooks": 0,
    "traced": 2,
    "traced_nobody": 2,
    "recipe": 2,
    "flrid": 1,
    "otel": 0,
}


@functools.cache
def json_blob(size: int) -> bytes:
    """A JSON document of exactly ``size`` bytes (``size`` >= 12)."""
    head, tail = b'{"data": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def _add_routes(app: Flask) -> None:
    @app.get("/hello")
    def hello() -> str:
        return f"Hello, {request.args.get('name', 'world')}!"

    @app.post("/echo")
    def echo() -> Response:
        payload = request.get_json()
        return jsonify(hello=payload.get("name"))

    @app.post("/ingest")
    def ingest() -> Response:
        return jsonify(received=len(request.get_data()))

    @app.post("/discard")
    def discard() -> str:
        return "ok"

    @app.get("/blob")
    def blob() -> Response:
        return Response(
            json_blob(request.args.get("size", 64, type=int)), mimetype="application/json"
        )


def create_app(variant: str) -> Flask:
    """The benchmark app for ``variant`` (one of :data:`INBOUND_VARIANTS`)."""
    if variant not in INBOUND_VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; choose from {INBOUND_VARIANTS}")
    app = Flask(__name__)
    _add_routes(app)
    handler: DiscardHandler | None = None
    if variant in TRACED_VARIANTS:
        import traced_http
        from flask_hooks import Tracing

        handler = discard_logger("traced_http", traced_http.JsonFormatter())
        if variant == "traced":
            Tracing(app)
        else:
            Tracing(app, capture_bodies=False)
    elif variant == "recipe":
        from benchmarks import recipe

        handler = discard_logger(recipe.logger.name, logging.Formatter("%(message)s"))
        recipe.register_handler(app)
    elif variant == "flrid":
        from flask_log_request_id import RequestID, RequestIDLogFilter

        app.config["LOG_REQUEST_ID_LOG_ALL_REQUESTS"] = True
        handler = discard_logger(
            "flask_log_request_id.request_id",
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"),
            filters=[RequestIDLogFilter()],
        )
        RequestID(app)
    elif variant == "otel":
        _instrument_otel(app)
    elif variant == "empty_hooks":
        _add_empty_hooks(app)
    app.extensions["bench_handler"] = handler
    return app


def _add_empty_hooks(app: Flask) -> None:
    """The three hooks traced-http registers, doing nothing: what Flask charges for them."""

    @app.before_request
    def before() -> None:
        return None

    @app.after_request
    def after(response: Response) -> Response:
        return response

    @app.teardown_request
    def teardown(_error: BaseException | None) -> None:
        return None


def otel_tracer_provider():  # type: ignore[no-untyped-def]
    """A fresh SDK tracer provider exporting synchronously to a bounded in-memory list."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    class BoundedInMemoryExporter(InMemorySpanExporter):
        """Keeps the last spans only, so long runs do not grow without bound."""

        total = 0

        def export(self, spans: Sequence) -> object:  # type: ignore[type-arg]
            result = super().export(spans)
            self.total += len(spans)
            if len(self.get_finished_spans()) >= 1000:
                self.clear()
            return result

    exporter = BoundedInMemoryExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def _instrument_otel(app: Flask) -> None:
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    provider, exporter = otel_tracer_provider()
    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    app.extensions["bench_otel_exporter"] = exporter
