"""Body capture: what of a request or response body goes into an event, bounded in size.

Only textual bodies are read (JSON, form, text); anything else, a multipart upload or a
stream, is described by a marker dict with the key ``_body`` and never read. The work
done is bounded by the capture limit, whatever the size of the body.
"""

from __future__ import annotations

import json
from typing import Any, Optional
from urllib.parse import parse_qsl

from .redaction import Redactor

__all__ = ["DEFAULT_BODY_LIMIT", "body_kind", "capture", "form_fields", "marker", "truncated"]

DEFAULT_BODY_LIMIT = 2048

JSON, FORM, TEXT = "json", "form", "text"


def body_kind(content_type: Optional[str]) -> Optional[str]:
    """``json``, ``form`` or ``text`` for a textual content type; None for anything else."""
    if not content_type:
        return None
    mimetype = content_type.partition(";")[0].strip().lower()
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return JSON
    if mimetype == "application/x-www-form-urlencoded":
        return FORM
    if (
        mimetype.startswith("text/")
        or mimetype.endswith("+xml")
        or mimetype in ("application/xml", "application/javascript", "application/graphql")
    ):
        return TEXT
    return None


def marker(kind: str, **details: Any) -> dict[str, Any]:
    """A body that is described rather than recorded, e.g. ``{"_body": "streamed"}``."""
    return {"_body": kind, **details}


def capture(data: bytes, kind: str, limit: int, redactor: Redactor) -> Any:
    """The loggable form of a textual body: parsed JSON, a form dict, text, or a marker.

    ``data`` may be longer than ``limit``; only ``limit`` bytes of it are decoded.
    Never raises on bad input: not UTF-8 and not JSON are recorded as such.
    """
    size = len(data)
    if size > limit:
        return truncated(data[:limit], size, redactor)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return marker("not_utf8", length=size)
    if kind == JSON:
        try:
            parsed = json.loads(text)
        except ValueError:
            return marker("invalid_json", length=size, preview=redactor.text(text))
        # A key written with escapes ("pass\u0077ord") only shows its name once parsed.
        secret = "\\" in text or redactor.mentions_secret(text)
        return redactor.value(parsed) if secret else parsed
    if kind == FORM:
        return form_fields(text, redactor)
    return redactor.text(text)


def truncated(prefix: bytes, size: int, redactor: Redactor) -> dict[str, Any]:
    """The marker of a body over the limit: its first bytes as text, and its full length."""
    text = _decode_prefix(prefix)
    if text is None:
        return marker("not_utf8", length=size)
    return marker("truncated", length=size, preview=redactor.text(text))


def form_fields(text: str, redactor: Redactor) -> dict[str, Any]:
    """A urlencoded form as a dict (a repeated field becomes a list), secrets hidden."""
    fields: dict[str, Any] = {}
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True)
        check = True
    else:  # nothing to decode: the common case, at a fraction of parse_qsl's cost
        pairs = [pair.partition("=")[::2] for pair in text.split("&") if pair]
        check = redactor.mentions_secret(text)  # no secret word at all: no field to check
    for name, value in pairs:
        if check and redactor.secret_field(name):
            value = "[REDACTED]"
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[name] = value
    return fields


def _decode_prefix(prefix: bytes) -> Optional[str]:
    """Decode a cut body; a character split by the cut is dropped, real garbage is None."""
    try:
        return prefix.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(prefix) - 3 and exc.reason == "unexpected end of data":
            return prefix[: exc.start].decode("utf-8", "replace")
        return None
