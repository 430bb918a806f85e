"""Trace headers: read them from an inbound request, write them on an outbound call.

Inbound follows W3C Trace Context as a participant that continues the trace: an
invalid ``traceparent`` is ignored (never an error), ``tracestate`` is kept only with a
valid ``traceparent``, and only the sampled (01) and random (02) flags travel on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any, NamedTuple

from traced_http.ids import new_trace_id

__all__ = [
    "DEFAULT_ID_HEADERS",
    "DEFAULT_PROPAGATE_HEADERS",
    "InboundHeaders",
    "Incoming",
    "OutboundHeaders",
    "is_w3c_trace_id",
    "parse_traceparent",
    "parse_tracestate",
    "valid_plain_id",
    "w3c_trace_id",
]

DEFAULT_ID_HEADERS = ("traceparent", "traceid", "X-Request-ID", "X-Correlation-ID")
DEFAULT_PROPAGATE_HEADERS = ("traceparent", "traceid")

_OWS = " \t"
_PLAIN_ID = re.compile(r"[A-Za-z0-9._~:+/=@-]{1,128}")
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_W3C_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ANY_HEX_32 = re.compile(r"[0-9a-f]{32}", re.IGNORECASE)
_DASHED_UUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
# tracestate list-member grammar, from the W3C Trace Context text (Tracestate Header):
# key = ( lcalpha / DIGIT ) 0*255( keychar ), keychar = lcalpha / DIGIT / _ - * / @
# value = 0*255( chr ) nblk-chr, chr = %x20 / nblk-chr, nblk-chr = %x21-2B / %x2D-3C / %x3E-7E
_TS_KEY = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
_TS_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_TS_MAX_MEMBERS = 32


def valid_plain_id(value: str) -> str | None:
    """The id in a plain trace header (``traceid``, ``X-Request-ID``), or None if invalid.

    One value of 1 to 128 characters of ``[A-Za-z0-9._~:+/=@-]`` after trimming spaces
    and tabs: no commas (two joined values), controls, CR/LF or non-ASCII.
    """
    value = value.strip(_OWS)
    return value if _PLAIN_ID.fullmatch(value) else None


def parse_traceparent(value: str) -> tuple[str, str, str] | None:
    """``(trace_id, parent_id, flags)`` from a ``traceparent`` value, or None if invalid.

    Version ``00`` must be exactly 55 characters; ``ff`` is invalid; a higher version is
    read from its first 55 characters when the next one is a ``-``. Flags come back with
    every bit but sampled (01) and random (02) cleared, as they are sent on.
    """
    value = value.strip(_OWS)
    size = len(value)
    if size < 55:
        return None
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, parent_id, flags = match.groups()
    if version == "00":
        if size != 55:
            return None
    elif version == "ff" or (size > 55 and value[55] != "-"):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id, parent_id, "%02x" % (int(flags, 16) & 0x03)


def parse_tracestate(value: str) -> str | None:
    """The ``tracestate`` to send on, or None when there is nothing valid to send.

    ``value`` is the field as the server gives it: several ``tracestate`` fields arrive
    comma-joined in order (RFC 9110), so empty and whitespace-only members are skipped,
    as is the optional whitespace around members. A later member with the same key as an
    earlier one is discarded (the spec allows it; the header stays valid). One invalid
    member, or more than 32 key/value members, and the whole header is dropped. What is
    sent on is the members joined by ``,``, in the order received.
    """
    members: list[str] = []
    keys: set[str] = set()
    count = 0
    for raw in value.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        count += 1
        key, sep, val = member.partition("=")
        if (
            count > _TS_MAX_MEMBERS
            or not sep
            or not _TS_KEY.fullmatch(key)
            or not _TS_VALUE.fullmatch(val)
        ):
            return None
        if key not in keys:
            keys.add(key)
            members.append(member)
    return ",".join(members) if members else None


def is_w3c_trace_id(trace_id: str) -> bool:
    """True when ``trace_id`` can travel in a ``traceparent`` (32 lowercase hex, not zero)."""
    return trace_id != _ZERO_TRACE and _W3C_TRACE_ID.fullmatch(trace_id) is not None


def w3c_trace_id(trace_id: str) -> str:
    """The W3C trace-id (32 lowercase hex, never all zeros) that stands for ``trace_id``.

    A 32-hex id is itself, lowercased; a dashed UUID (``X-Request-ID``) is its hex without
    the dashes; any other plain id (``req-391``) is the first 32 hex of its SHA-256, so
    every service derives the same W3C id from the same plain id.
    """
    if _ANY_HEX_32.fullmatch(trace_id) or _DASHED_UUID.fullmatch(trace_id):
        derived = trace_id.replace("-", "").lower()
    else:
        derived = hashlib.sha256(trace_id.encode("utf-8")).hexdigest()[:32]
    return derived if derived != _ZERO_TRACE else "0" * 31 + "1"


class Incoming(NamedTuple):
    """The trace to continue: its id, the caller's span and flags, and where the id came from.

    ``source`` is the header the id was read from (lowercase), or ``generated``;
    ``rejected`` names the headers read before it whose value was invalid.
    """

    trace_id: str
    parent_id: str | None
    flags: str
    tracestate: str | None
    source: str
    rejected: tuple[str, ...]

    @classmethod
    def read(cls, header: str, value: str, rejected: tuple[str, ...] = ()) -> Incoming | None:
        """The trace that one header's ``value`` continues, or None when it is invalid.

        A ``traceparent`` gives the trace id, the parent span and the flags; any other
        header (``header``, lowercase) holds a plain id.
        """
        if header == "traceparent":
            parsed = parse_traceparent(value)
            if parsed is None:
                return None
            return cls(parsed[0], parsed[1], parsed[2], None, header, rejected)
        trace_id = valid_plain_id(value)
        return None if trace_id is None else cls(trace_id, None, "01", None, header, rejected)

    @classmethod
    def new(cls, rejected: tuple[str, ...] = ()) -> Incoming:
        """A new trace: there was nothing valid to continue."""
        return cls(new_trace_id(), None, "01", None, "generated", rejected)

    @classmethod
    def given(cls, value: str | None) -> Incoming:
        """The trace that an id given in code continues (``traced.trace(name, traceid=...)``).

        A ``traceparent`` value, else a plain id (its source is ``traceid``); an invalid
        one gives a new trace, with ``traceid`` rejected.
        """
        if value is None:
            return cls.new()
        return cls.read("traceparent", value) or cls.read("traceid", value) or cls.new(("traceid",))


class InboundHeaders:
    """The configured inbound trace headers, in order, compiled once for WSGI environs."""

    __slots__ = ("_specs", "logged_names")

    def __init__(self, names: Sequence[str] = DEFAULT_ID_HEADERS) -> None:
        self._specs = tuple(
            (name.lower(), "HTTP_" + name.upper().replace("-", "_")) for name in names
        )
        # The names as a WSGI server's environ gives them back (``X-Request-Id``).
        self.logged_names = frozenset(name.title() for name in (*names, "tracestate"))

    @property
    def names(self) -> tuple[str, ...]:
        """The header names read, lowercased, in order of precedence."""
        return tuple(name for name, _ in self._specs)

    def extract(self, environ: Mapping[str, Any]) -> Incoming:
        """The trace to continue from ``environ``: the first header with a valid value, in
        order, else a new one; never raises."""
        rejected: tuple[str, ...] = ()
        for name, key in self._specs:
            raw = environ.get(key)
            if raw is None:
                continue
            incoming = Incoming.read(name, raw, rejected)
            if incoming is not None:
                return self._with_partners(environ, incoming) if name == "traceparent" else incoming
            rejected += (name,)
        return Incoming.new(rejected)

    def _with_partners(self, environ: Mapping[str, Any], incoming: Incoming) -> Incoming:
        """A ``traceparent``'s trace with the headers that travel with it: ``tracestate``,
        and a plain header holding the id that the ``traceparent``'s id stands for.

        A caller whose trace id is not 32 hex (``req-391``) sends it as ``traceid`` with a
        ``traceparent`` carrying its derived W3C id: the plain id is kept, the parent read
        from the ``traceparent``.
        """
        state = environ.get("HTTP_TRACESTATE")
        partner = self._plain_partner(environ, incoming.trace_id)
        if state is None and partner is None:
            return incoming
        trace_id, source = partner or (incoming.trace_id, incoming.source)
        return Incoming(
            trace_id,
            incoming.parent_id,
            incoming.flags,
            None if state is None else parse_tracestate(state),
            source,
            incoming.rejected,
        )

    def _plain_partner(self, environ: Mapping[str, Any], w3c_id: str) -> tuple[str, str] | None:
        """``(plain id, header)`` when a plain header holds the id ``w3c_id`` stands for."""
        for name, key in self._specs:
            raw = environ.get(key)
            if raw is None or name == "traceparent":
                continue
            plain = valid_plain_id(raw)
            if plain is not None and plain != w3c_id and w3c_trace_id(plain) == w3c_id:
                return plain, name
        return None


def _header_text(value: Any) -> str | None:
    """A header value as requests accepts it (str or bytes), as text."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("latin-1")
    return value if value is None or isinstance(value, str) else str(value)


class OutboundHeaders:
    """The trace headers written on outbound calls; ``traceparent`` brings ``tracestate``."""

    __slots__ = ("all_names", "plain", "w3c")

    def __init__(self, names: Sequence[str] = DEFAULT_PROPAGATE_HEADERS) -> None:
        lowered = [name.lower() for name in names]
        self.w3c = "traceparent" in lowered
        self.plain = tuple(name for name in names if name.lower() != "traceparent")
        self.all_names = (*self.plain, "traceparent", "tracestate")

    def caller_overrides(
        self, headers: Mapping[str, str], trace_id: str | None, tracestate: str | None
    ) -> bool:
        """True when the caller set a trace header to another value than the current
        trace's (``trace_id`` and its ``tracestate``): the caller took propagation over.

        ``headers={'traceid': g.traceid}`` (an id passed on by hand) is not an override, nor
        are the headers a redirect copies from the hop before (the same trace's values).
        """
        for name in self.plain:
            value = _header_text(headers.get(name))
            if value is not None and value != trace_id:
                return True
        value = _header_text(headers.get("tracestate"))
        if value is not None and value != tracestate:
            return True
        value = _header_text(headers.get("traceparent"))
        if value is not None:
            parsed = parse_traceparent(value)
            return parsed is None or trace_id is None or parsed[0] != w3c_trace_id(trace_id)
        return False

    def inject(
        self,
        headers: MutableMapping[str, str],
        trace_id: str,
        span_id: str,
        flags: str,
        tracestate: str | None,
    ) -> None:
        """Write the headers for one call span into ``headers`` (a case-insensitive map)."""
        for name in self.plain:
            headers[name] = trace_id
        if self.w3c:
            # A plain id (``req-391``) travels as ``traceid``; its derived W3C id keeps the
            # ``traceparent`` valid, so the receiver still learns its parent span.
            w3c_id = trace_id if is_w3c_trace_id(trace_id) else w3c_trace_id(trace_id)
            headers["traceparent"] = f"00-{w3c_id}-{span_id}-{flags}"
            if tracestate:
                headers["tracestate"] = tracestate
            else:
                headers.pop("tracestate", None)
        else:
            headers.pop("traceparent", None)
            headers.pop("tracestate", None)

    def strip(self, headers: MutableMapping[str, str]) -> None:
        """Remove every trace header, the caller's own included (a host outside propagate_to)."""
        for name in self.all_names:
            headers.pop(name, None)
