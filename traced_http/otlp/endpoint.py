"""Where spans go, and the OpenTelemetry exporter that takes them there.

Endpoint forms follow the OpenTelemetry convention: a setting (``otlp_endpoint``,
``TRACE_OTLP_ENDPOINT``, ``--otlp``) and ``OTEL_EXPORTER_OTLP_ENDPOINT`` are base URLs
to which ``/v1/traces`` is appended; ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used as
given. Headers, timeout, TLS files and compression come from the ``OTEL_EXPORTER_OTLP_*``
variables, read by the exporter itself; compression is gzip unless they say otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["export_url", "make_exporter", "traces_url"]

_TRACES_ENV = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
_BASE_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
_COMPRESSION_ENVS = ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION")


def traces_url(base: str) -> str:
    """``http://collector:4318`` -> ``http://collector:4318/v1/traces``."""
    return base.rstrip("/") + "/v1/traces"


def export_url(setting: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The traces URL live export sends to, or None when export is off.

    The app's own setting wins; else ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as given; else
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` plus ``/v1/traces``.
    """
    if setting:
        return traces_url(setting)
    traces = environ.get(_TRACES_ENV, "").strip()
    if traces:
        return traces
    base = environ.get(_BASE_ENV, "").strip()
    return traces_url(base) if base else None


def make_exporter(url: str, timeout: float | None = None) -> SpanExporter:
    """OpenTelemetry's OTLP/HTTP protobuf span exporter for ``url`` (``otlp`` extra).

    It brings the wire format, retries with backoff, gzip, timeouts and the
    ``OTEL_EXPORTER_OTLP_HEADERS`` / ``..._TIMEOUT`` / certificate variables.
    """
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    chosen = any(os.environ.get(name, "").strip() for name in _COMPRESSION_ENVS)
    return OTLPSpanExporter(
        endpoint=url, timeout=timeout, compression=None if chosen else Compression.Gzip
    )
