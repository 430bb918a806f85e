"""OTLP tests: a decoding receiver, and live exports stopped after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="needs the otlp extra")

from otlp_receiver import Receiver, otlp_receiver

from traced_http.otlp.live import active_exports


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running
        _stop_all()  # while the receiver still answers: no retries against a closed port


def _stop_all() -> None:
    for export in active_exports():
        export.shutdown(timeout=5)


@pytest.fixture(autouse=True)
def _stop_exports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No OTEL variable from the machine leaks in; every export started is stopped."""
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    _stop_all()
