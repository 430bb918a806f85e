"""Added CPU per request with live OTLP export, against OpenTelemetry's own instrumentation.

python -m benchmarks.otlp_export                 # about a minute on 2 cores
python -m benchmarks.otlp_export --requests 500 --rounds 1    # smoke run

One request = a Flask view that makes one outbound ``requests`` call (answered in memory
by a canned adapter): a SERVER and a CLIENT span. Each variant runs in a fresh process
(OpenTelemetry's instrumentation patches globals) and reports the process's CPU time per
request, export thread included, the queue flushed before the clock stops. Both
exporters send gzip OTLP/HTTP protobuf to the same receiver, a separate process that
decodes every request and counts spans, so each variant is checked to have exported all
its spans. Variants are run in interleaved rounds; the median is reported.

- bare: the same app, untraced (the baseline the overheads are measured from); its
  session, like OpenTelemetry's, skips the per-call environment lookups, as
  ``TracedSession`` does
- traced-http, logs only: ``Tracing(app)``, events formatted as JSON lines and discarded
- traced-http + OTLP export: the same, plus live export (so logging is included)
- OpenTelemetry: Flask + requests instrumentation, SDK ``BatchSpanProcessor`` and
  ``OTLPSpanExporter``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

VARIANTS = ("bare", "traced-logs", "traced-otlp", "otel")
LABELS = {
    "bare": "bare Flask + requests (baseline)",
    "traced-logs": "traced-http, JSON log lines only",
    "traced-otlp": "traced-http, JSON log lines + live OTLP export",
    "otel": "OpenTelemetry Flask + requests instrumentation, BatchSpanProcessor + OTLP exporter",
}
SPANS = {"bare": 0, "traced-logs": 0, "traced-otlp": 2, "otel": 2}
WARMUP = 300
URL = "http://inventory.internal:8080/items?id=42"

RECEIVER = """
import gzip, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
spans = 0
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        global spans
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest.FromString(body)
        count = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with lock:
            spans += count
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def do_GET(self):
        data = str(spans).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_port, flush=True)
server.serve_forever()
"""


def _app(variant: str, base_url: str) -> tuple[Any, Any]:
    """The app of one variant, and a function that flushes its export."""
    from flask import Flask, jsonify

    from benchmarks.harness import discard_logger
    from benchmarks.outbound import canned_traced_session

    app = Flask("bench")
    flush: Any = lambda: None  # noqa: E731
    if variant == "otel":
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.flask import FlaskInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
        exporter = OTLPSpanExporter(endpoint=base_url + "/v1/traces", compression=Compression.Gzip)
        # A queue large enough that no span is dropped: the run must export them all.
        provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=1 << 20))
        FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
        RequestsInstrumentor().instrument(tracer_provider=provider)
        session = _plain_session()
        flush = lambda: provider.force_flush(120_000)  # noqa: E731
    elif variant.startswith("traced"):
        import traced_http
        from flask_hooks import Tracing

        discard_logger("traced_http", traced_http.JsonFormatter())
        options: dict[str, Any] = {}
        if variant == "traced-otlp":
            from traced_http.otlp import traces_url
            from traced_http.otlp.live import start_export

            export = start_export(traces_url(base_url), queue_size=1 << 20)
            options["otlp_endpoint"] = base_url
            flush = lambda: export.flush(120)  # noqa: E731
        Tracing(app, **options)
        session = canned_traced_session(traced_http.TracedSession())
    else:
        session = _plain_session()

    @app.route("/orders/<int:order_id>")
    def order(order_id: int) -> Any:
        answer = session.get(URL)
        return jsonify(order=order_id, stock=answer.json())

    return app, flush


def _plain_session() -> Any:
    """A canned ``requests.Session`` without the environment lookups (proxies, netrc),
    which ``TracedSession`` does not make per call either: like is compared with like."""
    import requests

    from benchmarks.outbound import canned_session

    session = canned_session(requests.Session())
    session.trust_env = False
    return session


def _measure(variant: str, base_url: str, requests_count: int) -> dict[str, float]:
    from benchmarks.harness import WsgiCall

    app, flush = _app(variant, base_url)
    call = WsgiCall(app, "GET", "/orders/7", headers={"User-Agent": "bench/1.0"})
    for _ in range(WARMUP):
        call()
    flush()
    began = time.process_time()
    for _ in range(requests_count):
        call()
    flush()
    cpu = time.process_time() - began
    return {"cpu_us": cpu / requests_count * 1e6}


def _spans_received(base_url: str) -> int:
    import requests

    return int(requests.get(base_url, timeout=10).text)


def _run_variant(variant: str, base_url: str, requests_count: int) -> float:
    before = _spans_received(base_url)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.otlp_export",
            "--child",
            variant,
            base_url,
            "--requests",
            str(requests_count),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, OTEL_SDK_DISABLED="false"),
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    received = _spans_received(base_url) - before
    expected = SPANS[variant] * (requests_count + WARMUP)
    if received != expected:
        raise SystemExit(f"{variant}: the receiver got {received} spans, expected {expected}")
    return float(result["cpu_us"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.otlp_export")
    parser.add_argument("--requests", type=int, default=3000, help="timed requests per run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        variant, base_url = args.child
        print(json.dumps(_measure(variant, base_url, args.requests)))
        return
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert receiver.stdout is not None
        base_url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}"
        runs: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for _ in range(args.rounds):
            for variant in VARIANTS:
                runs[variant].append(_run_variant(variant, base_url, args.requests))
    finally:
        receiver.terminate()
        receiver.wait(10)
    _report(runs, args)


def _report(runs: dict[str, list[float]], args: argparse.Namespace) -> None:
    cpu = {v: statistics.median(values) for v, values in runs.items()}
    added = {v: cpu[v] - cpu["bare"] for v in VARIANTS}
    print(f"## OTLP export: CPU per request ({args.requests:,} requests x {args.rounds} rounds)")
    print()
    print(f"Python {sys.version.split()[0]}, load average (1 min) {os.getloadavg()[0]:.2f}")
    print()
    print("| variant | CPU µs per request (median) | added µs | × OpenTelemetry's added | runs |")
    print("|---|---|---|---|---|")
    for variant in VARIANTS:
        share = added[variant] / added["otel"] if added["otel"] > 0 else float("nan")
        each = ", ".join(f"{value:.0f}" for value in runs[variant])
        print(
            f"| {LABELS[variant]} | {cpu[variant]:.1f} | {added[variant]:.1f} | {share:.2f} "
            f"| {each} |"
        )
    ratio = added["traced-otlp"] / added["otel"]
    verdict = "PASS" if ratio <= 0.5 else "FAIL"
    print()
    print(
        f"target: traced-http with export adds ≤ 0.5 × OpenTelemetry's: {ratio:.2f} × ({verdict})"
    )


if __name__ == "__main__":
    main()
