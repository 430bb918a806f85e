"""Settings that travel with a trace: how its events are written and its calls propagated.

The Flask extension builds one per app and puts it on every trace it opens, so an
outbound call made while handling a request follows that service's configuration.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Optional

from .hosts import HostMatcher
from .propagation import DEFAULT_PROPAGATE_HEADERS, OutboundHeaders
from .redaction import DEFAULT_REDACT_FIELDS, DEFAULT_REDACT_HEADERS, Redactor

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_SERVICE",
    "DEFAULT_SETTINGS",
    "TraceSettings",
    "check_names",
    "service_name",
]

# The name of a service that nothing named; OTEL_SERVICE_NAME replaces it (see service_name).
DEFAULT_SERVICE = "python"
# Bytes of a body recorded in an event (what is over it is previewed, see bodies.py).
DEFAULT_BODY_LIMIT = 2048


@dataclass(frozen=True)
class TraceSettings:
    """Validated once; the compiled helpers (redactor, host matcher) are built here too."""

    service: str = DEFAULT_SERVICE
    propagate_headers: Sequence[str] = DEFAULT_PROPAGATE_HEADERS
    propagate_to: Optional[Sequence[str]] = None
    capture_bodies: bool = True
    body_limit: int = DEFAULT_BODY_LIMIT
    redact_headers: Sequence[str] = DEFAULT_REDACT_HEADERS
    redact_fields: Sequence[str] = DEFAULT_REDACT_FIELDS
    redactor: Redactor = field(init=False, repr=False, compare=False)
    outbound: OutboundHeaders = field(init=False, repr=False, compare=False)
    hosts: HostMatcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.service, str) or not self.service:
            raise ValueError(f"service must be a non-empty string, not {self.service!r}")
        if not isinstance(self.capture_bodies, bool):
            raise TypeError(f"capture_bodies must be True or False, not {self.capture_bodies!r}")
        if (
            isinstance(self.body_limit, bool)
            or not isinstance(self.body_limit, int)
            or self.body_limit < 0
        ):
            raise ValueError(f"body_limit must be a whole number >= 0, not {self.body_limit!r}")
        set_ = object.__setattr__
        for name in ("propagate_headers", "redact_headers", "redact_fields"):
            set_(self, name, check_names(name, getattr(self, name)))
        if self.propagate_to is not None:
            set_(self, "propagate_to", check_names("propagate_to", self.propagate_to))
        set_(self, "redactor", Redactor(self.redact_headers, self.redact_fields))
        set_(self, "outbound", OutboundHeaders(self.propagate_headers))
        set_(self, "hosts", HostMatcher(self.propagate_to))

    def replace(self, **changes: Any) -> TraceSettings:
        """A copy with some settings changed (validated again)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        current.update(changes)
        return TraceSettings(**current)


def check_names(setting: str, value: Any) -> tuple[str, ...]:
    """A sequence of strings as a tuple; a lone string is refused (a classic slip)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"{setting} must be a list of strings, not {value!r}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"{setting} must be a list of strings, not {value!r}")
    return tuple(value)


DEFAULT_SETTINGS = TraceSettings()


def service_name(settings: TraceSettings) -> str:
    """The service that events under ``settings`` name, outside a request.

    Its ``service`` when one was given; otherwise the process default: the
    ``OTEL_SERVICE_NAME`` environment variable (the OpenTelemetry convention), else
    ``"python"``.
    """
    if settings.service != DEFAULT_SERVICE:
        return settings.service
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE
