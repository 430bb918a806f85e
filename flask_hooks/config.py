"""The extension's settings: ``Tracing(app, **options)`` and ``app.config["TRACE_*"]``.

Both name the same settings (options win); they are validated once, at ``init_app``, and a
bad one raises an error that names it, rather than failing on the thousandth request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from traced_http.bodies import DEFAULT_BODY_LIMIT
from traced_http.propagation import DEFAULT_ID_HEADERS, DEFAULT_PROPAGATE_HEADERS, InboundHeaders
from traced_http.redaction import DEFAULT_REDACT_FIELDS, DEFAULT_REDACT_HEADERS
from traced_http.settings import TraceSettings, check_names

__all__ = ["DEFAULTS", "TracingConfig"]

# option name -> default; the app.config key is "TRACE_" + NAME.upper().
DEFAULTS: dict[str, Any] = {
    "service": None,
    "id_headers": DEFAULT_ID_HEADERS,
    "propagate_headers": DEFAULT_PROPAGATE_HEADERS,
    "propagate_to": None,
    "response_header": "traceid",
    "capture_bodies": True,
    "body_limit": DEFAULT_BODY_LIMIT,
    "redact_headers": DEFAULT_REDACT_HEADERS,
    "redact_fields": DEFAULT_REDACT_FIELDS,
    "exclude_paths": (),
    "otlp_endpoint": None,
}
_PREFIX = "TRACE_"


@dataclass(frozen=True)
class TracingConfig:
    """Everything the hooks need, compiled once per app."""

    settings: TraceSettings
    inbound: InboundHeaders
    response_header: Optional[str]
    exclude_paths: tuple[str, ...]
    otlp_endpoint: Optional[str] = None

    @classmethod
    def build(
        cls, app_name: str, app_config: Mapping[str, Any], options: Mapping[str, Any]
    ) -> TracingConfig:
        """Merge defaults, ``app.config`` and options; raise naming the first bad setting."""
        check_option_names(options)
        values = dict(DEFAULTS)
        for key, value in app_config.items():
            if isinstance(key, str) and key.startswith(_PREFIX):
                name = key[len(_PREFIX) :].lower()
                if name not in DEFAULTS:
                    known = ", ".join(_PREFIX + n.upper() for n in DEFAULTS)
                    raise ValueError(f"unknown setting app.config[{key!r}]; known: {known}")
                values[name] = value
        values.update(options)
        try:
            return cls._from_values(app_name, values)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"traced-http configuration: {exc}") from None

    @classmethod
    def _from_values(cls, app_name: str, values: dict[str, Any]) -> TracingConfig:
        if isinstance(values["id_headers"], (set, frozenset)):
            raise TypeError("id_headers is an order of precedence: give a list, not a set")
        id_headers = check_names("id_headers", values["id_headers"])
        if not id_headers:
            raise ValueError("id_headers must name at least one header")
        response_header = values["response_header"]
        if response_header is not None and not isinstance(response_header, str):
            raise TypeError(
                f"response_header must be a header name or None, not {response_header!r}"
            )
        exclude = check_names("exclude_paths", values["exclude_paths"])
        if any(not path.startswith("/") for path in exclude):
            raise ValueError(f"exclude_paths must start with '/': {list(exclude)!r}")
        settings = TraceSettings(
            service=values["service"] or app_name,
            propagate_headers=values["propagate_headers"],
            propagate_to=values["propagate_to"],
            capture_bodies=values["capture_bodies"],
            body_limit=values["body_limit"],
            redact_headers=values["redact_headers"],
            redact_fields=values["redact_fields"],
        )
        otlp = values["otlp_endpoint"]
        if otlp is not None and not (
            isinstance(otlp, str) and otlp.startswith(("http://", "https://"))
        ):
            raise ValueError(f"otlp_endpoint must be an http:// or https:// URL, not {otlp!r}")
        return cls(settings, InboundHeaders(id_headers), response_header or None, exclude, otlp)


def check_option_names(options: Mapping[str, Any]) -> None:
    """Refuse an option that does not exist (a typo would otherwise be ignored)."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"Tracing() got unknown options {unknown}; known: {', '.join(DEFAULTS)}")
