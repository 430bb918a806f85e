"""An OTLP/HTTP receiver on 127.0.0.1 that decodes with the official protobuf messages.

It accepts ``POST /v1/traces`` (gzip or not), decodes each body as an
``ExportTraceServiceRequest`` and keeps it; it can also answer with an error status or
hang, to play a failing backend.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span


@dataclass
class ReceivedSpan:
    """One decoded span with the ``service.name`` of its resource."""

    service: str
    span: Span

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_id(self) -> str | None:
        return self.span.parent_span_id.hex() or None

    @property
    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kv in self.span.attributes:
            value = kv.value
            out[kv.key] = getattr(value, value.WhichOneof("value"))
        return out


@dataclass
class Receiver:
    """What the receiver got; ``status`` and ``hang`` change how it answers."""

    url: str = ""
    status: int = 200
    hang: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    bodies: list[bytes] = field(default_factory=list)
    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    posts: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def base_url(self) -> str:
        return self.url

    def spans(self) -> list[ReceivedSpan]:
        with self._changed:
            requests = list(self.requests)
        out = []
        for request in requests:
            for resource_spans in request.resource_spans:
                service = ""
                for kv in resource_spans.resource.attributes:
                    if kv.key == "service.name":
                        service = kv.value.string_value
                for scope_spans in resource_spans.scope_spans:
                    out.extend(ReceivedSpan(service, span) for span in scope_spans.spans)
        return out

    def wait_for_spans(self, count: int, timeout: float = 20.0) -> list[ReceivedSpan]:
        """Wait until at least ``count`` spans arrived (bounded); return them all."""
        with self._changed:
            self._changed.wait_for(lambda: self._span_count() >= count, timeout)
        return self.spans()

    def wait_for_posts(self, count: int, timeout: float = 20.0) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self.posts >= count, timeout)
            return self.posts

    def _span_count(self) -> int:
        return sum(
            len(ss.spans) for r in self.requests for rs in r.resource_spans for ss in rs.scope_spans
        )

    def _record(self, headers: dict[str, str], body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self._changed:
            self.posts += 1
            if self.status == 200:
                self.headers.append(headers)
                self.bodies.append(body)
                self.requests.append(request)
            self._changed.notify_all()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            if receiver.hang.is_set():
                with receiver._changed:
                    receiver.posts += 1
                    receiver._changed.notify_all()
                receiver.released.wait(30)
                self.close_connection = True
                return
            if self.path != "/v1/traces":
                self._answer(404, b"")
                return
            receiver._record(dict(self.headers.items()), body)
            if receiver.status != 200:
                self._answer(receiver.status, b"", retry_after=receiver.status == 429)
                return
            self._answer(200, ExportTraceServiceResponse().SerializeToString())

        def _answer(self, status: int, body: bytes, retry_after: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            if retry_after:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1; ``receiver.base_url`` is the OTLP base URL."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
