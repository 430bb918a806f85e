"""A chain mixing traced-http and OpenTelemetry's own instrumentation is one trace.

gateway (traced-http) -> inventory (OpenTelemetry Flask + requests instrumentation, in
its own process, exporting with OpenTelemetry's SDK) -> pricing (traced-http); all three
export to the same receiver, which sees one trace with every parent right.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
from opentelemetry.proto.trace.v1.trace_pb2 import Span

import traced_http as traced
from traced_http.otlp.live import active_exports
from traced_http.testing import serve_app

pytest.importorskip("opentelemetry.instrumentation.flask")
pytest.importorskip("opentelemetry.instrumentation.requests")

OTEL_SERVICE = textwrap.dedent(
    """
    import sys
    import requests
    from flask import Flask
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from werkzeug.serving import make_server

    otlp, next_url = sys.argv[1], sys.argv[2]
    provider = TracerProvider(resource=Resource.create({"service.name": "inventory"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=otlp)))
    trace.set_tracer_provider(provider)
    RequestsInstrumentor().instrument()
    app = Flask("inventory")
    FlaskInstrumentor().instrument_app(app)

    @app.route("/stock/<int:item>")
    def stock(item):
        answer = requests.get(f"{next_url}/price/{item}", timeout=10)
        return {"price": answer.json()["price"]}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()
    """
)


@pytest.fixture
def otel_service(tmp_path: Path, receiver: Any) -> Callable[[str], Any]:
    processes: list[subprocess.Popen[str]] = []

    def start(next_url: str) -> str:
        script = tmp_path / "inventory.py"
        script.write_text(OTEL_SERVICE)
        process = subprocess.Popen(
            [sys.executable, str(script), receiver.base_url + "/v1/traces", next_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout is not None
        port = process.stdout.readline().strip()  # bounded: the script prints it first
        assert port.isdigit(), "the OpenTelemetry service did not start"
        return f"http://127.0.0.1:{port}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(10)


@pytest.fixture
def mixed_chain(make_app: Callable[..., Any], receiver: Any, otel_service: Any) -> Iterator[str]:
    pricing = make_app("pricing", otlp_endpoint=receiver.base_url)

    @pricing.route("/price/<int:item>")
    def price(item: int) -> Any:
        return {"price": item * 10}

    gateway = make_app("gateway", otlp_endpoint=receiver.base_url)
    with serve_app(pricing) as pricing_url:
        inventory_url = otel_service(pricing_url)

        @gateway.route("/buy/<int:item>")
        def buy(item: int) -> Any:
            return traced.get(f"{inventory_url}/stock/{item}").json()

        with serve_app(gateway) as gateway_url:
            yield gateway_url


def test_one_trace_with_right_parents_across_both_instrumentations(mixed_chain, receiver):
    assert requests.get(mixed_chain + "/buy/4", timeout=20).json() == {"price": 40}
    (export,) = active_exports()
    assert export.flush()
    spans = receiver.wait_for_spans(5)
    by_role = {(s.service, s.span.kind): s for s in spans}
    assert len(spans) == len(by_role) == 5
    assert len({s.trace_id for s in spans}) == 1

    gateway_in = by_role["gateway", Span.SPAN_KIND_SERVER]
    gateway_out = by_role["gateway", Span.SPAN_KIND_CLIENT]
    inventory_in = by_role["inventory", Span.SPAN_KIND_SERVER]
    inventory_out = by_role["inventory", Span.SPAN_KIND_CLIENT]
    pricing_in = by_role["pricing", Span.SPAN_KIND_SERVER]
    assert gateway_in.parent_id is None
    assert gateway_out.parent_id == gateway_in.span_id
    assert inventory_in.parent_id == gateway_out.span_id
    assert inventory_out.parent_id == inventory_in.span_id
    assert pricing_in.parent_id == inventory_out.span_id
    # Both sides name and describe their spans by the same conventions.
    assert (inventory_in.span.name, pricing_in.span.name) == (
        "GET /stock/<int:item>",
        "GET /price/<int:item>",
    )
    assert inventory_in.attributes["http.route"] == "/stock/<int:item>"
