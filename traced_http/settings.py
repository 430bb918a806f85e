"""The settings schema, and the settings that travel with a trace.

``SETTINGS`` is the only place a setting is declared: its name, default, type, check and
what it does. From it come the ``TRACE_*`` keys of ``app.config``, the error messages,
the README's table and the keyword-only parameters of ``Tracing``, ``TracedSession`` and
``TracingAdapter`` (a test keeps each signature equal to the schema).

``TraceSettings`` holds the outbound ones: the Flask extension builds one per app and puts
it on every trace it opens, so an outbound call made while handling a request follows
that service's configuration.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Callable, TypeVar, Union

from traced_http.hosts import HostMatcher
from traced_http.propagation import DEFAULT_ID_HEADERS, DEFAULT_PROPAGATE_HEADERS, OutboundHeaders
from traced_http.redaction import DEFAULT_REDACT_FIELDS, DEFAULT_REDACT_HEADERS, Redactor

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "DEFAULT_SERVICE",
    "DEFAULT_SETTINGS",
    "KEY_PREFIX",
    "SETTINGS",
    "UNSET",
    "OrUnset",
    "Setting",
    "TraceSettings",
    "Unset",
    "check_names",
    "given",
    "service_name",
]

# The name of a service that nothing named; OTEL_SERVICE_NAME replaces it (see service_name).
DEFAULT_SERVICE = "python"
# Bytes of a body recorded in an event (what is over it is previewed, see bodies.py).
DEFAULT_BODY_LIMIT = 2048
KEY_PREFIX = "TRACE_"


class Unset(enum.Enum):
    """The default of a keyword parameter left out: ``app.config`` or the schema decides."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET
_T = TypeVar("_T")
OrUnset = Union[_T, Unset]  # a parameter's type: the setting's own, or left out


@dataclass(frozen=True)
class Setting:
    """One setting: what the schema knows about it."""

    name: str
    type: str  # as written in the signatures, inside OrUnset[...]
    default: Any
    check: Callable[[str, Any], Any]  # (name, value) -> the value to keep; raises naming it
    outbound: bool  # also a TracedSession / TracingAdapter parameter (a TraceSettings field)
    doc: str  # one line, for the README's table
    shown: str = ""  # the default as the README's table shows it; left out: the default itself

    def __post_init__(self) -> None:
        if not self.shown:
            object.__setattr__(self, "shown", _shown(self.default))

    @property
    def key(self) -> str:
        """The ``app.config`` key."""
        return KEY_PREFIX + self.name.upper()


def _shown(default: Any) -> str:
    """A default as the README's table writes it: names listed in code, else the value."""
    if isinstance(default, tuple):
        return ", ".join(f"`{name}`" for name in default) or "none"
    return f"`{default}`"


def check_names(setting: str, value: Any) -> tuple[str, ...]:
    """A sequence of strings as a tuple; a lone string is refused (a classic slip)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"{setting} must be a list of strings, not {value!r}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError(f"{setting} must be a list of strings, not {value!r}")
    return tuple(value)


def _service(name: str, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string, not {value!r}")
    return value


def _names_or_none(name: str, value: Any) -> tuple[str, ...] | None:
    return None if value is None else check_names(name, value)


def _header_order(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"{name} is an order of precedence: give a list, not a set")
    headers = check_names(name, value)
    if not headers:
        raise ValueError(f"{name} must name at least one header")
    return headers


def _header_or_none(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{name} must be a header name or None, not {value!r}")
    return value or None


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return value


def _size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, not {value!r}")
    return value


def _paths(name: str, value: Any) -> tuple[str, ...]:
    paths = check_names(name, value)
    if any(not path.startswith("/") for path in paths):
        raise ValueError(f"{name} must start with '/': {list(paths)!r}")
    return paths


def _http_url_or_none(name: str, value: Any) -> str | None:
    if value is not None and not (
        isinstance(value, str) and value.startswith(("http://", "https://"))
    ):
        raise ValueError(f"{name} must be an http:// or https:// URL, not {value!r}")
    return value


# One row a setting: name, type, default, check, whether it is an outbound setting too;
# then what it does, and the default in words where the default itself would not say.
SETTINGS: tuple[Setting, ...] = (
    Setting("service", "str | None", None, _service, True,
            "`service` of every event: the app's in a request, the block's in "
            "`trace(service=...)`, a session's for its calls outside a request; "
            "else `OTEL_SERVICE_NAME`, else `python`", "the app's name"),
    Setting("id_headers", "Sequence[str]", DEFAULT_ID_HEADERS, _header_order, False,
            "inbound headers read for the id, in order"),
    Setting("propagate_headers", "Sequence[str]", DEFAULT_PROPAGATE_HEADERS, check_names, True,
            "headers written on calls (`traceparent` brings `tracestate`)"),
    Setting("propagate_to", "Sequence[str] | None", None, _names_or_none, True,
            "hosts that receive trace headers: `api.internal`, `*.internal`, `localhost:8080`",
            "`None` (all hosts)"),
    Setting("response_header", "str | None", "traceid", _header_or_none, False,
            "response header that echoes the id; `None`: no echo"),
    Setting("capture_bodies", "bool", True, _flag, True,
            "request and response bodies in events"),
    Setting("body_limit", "int", DEFAULT_BODY_LIMIT, _size, True,
            "bytes of a body read and logged at most"),
    Setting("redact_headers", "Sequence[str]", DEFAULT_REDACT_HEADERS, check_names, True,
            "headers whose values are never logged"),
    Setting("redact_fields", "Sequence[str]", DEFAULT_REDACT_FIELDS, check_names, True,
            "words that make a field secret"),
    Setting("exclude_paths", "Sequence[str]", (), _paths, False,
            "paths with no trace at all, matched by whole segments: `/health` (not `/healthcare`)"),
    Setting("otlp_endpoint", "str | None", None, _http_url_or_none, False,
            "OpenTelemetry collector that spans are sent to, live (needs the `otlp` extra)",
            "`None`: `OTEL_EXPORTER_OTLP_ENDPOINT`, else none"),
)  # fmt: skip
BY_NAME = {setting.name: setting for setting in SETTINGS}


def given(values: dict[str, Any]) -> dict[str, Any]:
    """The settings among ``values`` (a function's ``locals()``) that were not left out."""
    return {name: value for name, value in values.items() if name in BY_NAME and value is not UNSET}


def _default(name: str) -> Any:
    return BY_NAME[name].default


@dataclass(frozen=True)
class TraceSettings:
    """The outbound settings (those of ``SETTINGS`` marked so), checked by the schema once;
    the compiled helpers (redactor, host matcher) are built here too."""

    service: str | None = None  # None: no name of its own (see service_name)
    propagate_headers: Sequence[str] = _default("propagate_headers")
    propagate_to: Sequence[str] | None = _default("propagate_to")
    capture_bodies: bool = _default("capture_bodies")
    body_limit: int = _default("body_limit")
    redact_headers: Sequence[str] = _default("redact_headers")
    redact_fields: Sequence[str] = _default("redact_fields")
    redactor: Redactor = field(init=False, repr=False, compare=False)
    outbound: OutboundHeaders = field(init=False, repr=False, compare=False)
    hosts: HostMatcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for item in fields(self):
            if item.init:
                set_(self, item.name, BY_NAME[item.name].check(item.name, getattr(self, item.name)))
        set_(self, "redactor", Redactor(self.redact_headers, self.redact_fields))
        set_(self, "outbound", OutboundHeaders(self.propagate_headers))
        set_(self, "hosts", HostMatcher(self.propagate_to))

    def replace(self, **changes: Any) -> TraceSettings:
        """A copy with some settings changed (checked again)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        current.update(changes)
        return TraceSettings(**current)


DEFAULT_SETTINGS = TraceSettings()


def service_name(settings: TraceSettings) -> str:
    """The name a span's events carry as ``service``, for a span opened under ``settings``.

    Its ``service`` when one was given; otherwise the process default: the
    ``OTEL_SERVICE_NAME`` environment variable (the OpenTelemetry convention), else
    ``"python"``.
    """
    if settings.service is not None:
        return settings.service
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE
