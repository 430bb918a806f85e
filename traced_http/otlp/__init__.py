"""OTLP export: the same traces the logs hold, in any OpenTelemetry backend.

Live: ``Tracing(app, otlp_endpoint="http://collector:4318")``, ``TRACE_OTLP_ENDPOINT``, or
the ``OTEL_EXPORTER_OTLP_*`` variables. Offline: ``traced-http export --otlp URL FILES``.
Needs the ``otlp`` extra (OpenTelemetry's SDK and OTLP/HTTP exporter), imported only when
export is configured.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from traced_http.log_format import LOGGER_NAME
from traced_http.otlp.endpoint import export_url, traces_url

if TYPE_CHECKING:
    from traced_http.otlp.live import LiveExport

__all__ = ["export_url", "start_configured_export", "traces_url"]

_MISSING = "OTLP export needs the otlp extra: pip install 'traced-http[otlp]'"


def start_configured_export(setting: str | None) -> LiveExport | None:
    """Start live export when configured (the setting, else the OTEL variables).

    An explicit setting without the ``otlp`` extra is a configuration error, raised now;
    an ``OTEL_EXPORTER_OTLP_*`` variable alone (perhaps meant for another tool) only
    gets a warning on ``traced_http.internal``.
    """
    url = export_url(setting)
    if url is None:
        return None
    try:
        import opentelemetry.exporter.otlp.proto.http
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        if setting:
            raise RuntimeError(f"traced-http configuration: {_MISSING}") from None
        logging.getLogger(LOGGER_NAME + ".internal").warning(
            "traced_http: OTEL_EXPORTER_OTLP_ENDPOINT is set but %s; not exporting", _MISSING
        )
        return None
    from traced_http.otlp.live import start_export

    return start_export(url)
