"""Body capture: what of a request or response body goes into an event, bounded in size.

Only textual bodies are read (JSON, form, text); anything else, a multipart upload or a
stream, is described by a marker dict with the key ``_body`` and never read. The work
done is bounded by the capture limit, whatever the size of the body, and is linear in
it: JSON is parsed only when its nesting is within ``DEPTH_LIMIT`` (checked first, by
a scan), so no body can make a parser recurse. What cannot be decoded is not previewed.
"""

from __future__ import annotations

import codecs
import json
import re
from itertools import accumulate, repeat
from typing import Any
from urllib.parse import unquote_plus

from traced_http.log_format import DEPTH_LIMIT, jsonable
from traced_http.redaction import FIELDS_LIMIT, REDACTED, VALUE_LIMIT, Redactor, cut
from traced_http.settings import DEFAULT_BODY_LIMIT

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "body_kind",
    "capture",
    "content_length",
    "form_fields",
    "marker",
    "query_fields",
    "truncated",
]

JSON, FORM, TEXT = "json", "form", "text"
# Characters of a query string that ``query_fields`` reads; the rest is only counted.
QUERY_READ_LIMIT = 4 * VALUE_LIMIT
# JSON strings (an unterminated one to the end): removed before the nesting is measured.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}
_SNIFF = frozenset(b"\x00\xef\xfe\xff")  # first bytes of a BOM, or of UTF-16/32 ASCII
_UTF32_BOMS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE)
_UTF16_BOMS = (codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)


def body_kind(content_type: str | None) -> str | None:
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


def content_length(raw: str | None) -> int | None:
    """A ``Content-Length`` value as a number; None unless it is plain ASCII digits.

    ``str.isdigit`` alone lets through digits ``int`` refuses (``²``).
    """
    if raw and raw.isascii() and raw.isdigit():
        return int(raw)
    return None


def capture(data: bytes, kind: str, limit: int, redactor: Redactor) -> Any:
    """The loggable form of a textual body: parsed JSON, a form dict, text, or a marker.

    ``data`` may be longer than ``limit``; only ``limit`` bytes of it are decoded.
    Never raises on bad input: not UTF-8 and not JSON are recorded as such.
    """
    size = len(data)
    if size > limit:
        return truncated(data[:limit], size, redactor, kind)
    encoding = _json_encoding(data) if kind == JSON else "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return _undecodable(encoding, size)
    if "\x00" in text:
        return marker("not_text", length=size)
    if kind == JSON:
        return json_value(text, size, redactor)
    if kind == FORM:
        return form_fields(text, redactor)
    return redactor.text(text)


def json_value(text: str, size: int, redactor: Redactor) -> Any:
    """A JSON body parsed, secret fields hidden; a marker with a preview when it is not
    JSON or nests deeper than ``DEPTH_LIMIT``."""
    if len(text) > DEPTH_LIMIT and _too_deep(text):  # a short text cannot nest that deep
        return marker("too_deep", length=size, preview=redactor.text(text))
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: a caller already deep in the stack
        return marker("invalid_json", length=size, preview=redactor.text(text))
    # A key written with escapes ("pass\u0077ord") only shows its name once parsed.
    if "\\" in text or "://" in text or redactor.mentions_secret(text):
        return jsonable(parsed, redactor)
    return parsed


def truncated(prefix: bytes, size: int, redactor: Redactor, kind: str = TEXT) -> dict[str, Any]:
    """The marker of a body over the limit: its first bytes as text, and its full length.

    A character split by the cut is dropped; bytes that do not decode give no preview.
    """
    encoding = _json_encoding(prefix) if kind == JSON else "utf-8"
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(prefix, final=False)
    except UnicodeDecodeError:
        return _undecodable(encoding, size)
    if "\x00" in text:
        return marker("not_text", length=size)
    return marker("truncated", length=size, preview=redactor.text(text))


def form_fields(text: str, redactor: Redactor) -> dict[str, Any]:
    """A urlencoded form (or query) as a dict, secrets hidden; a repeated field is a list.

    At most ``FIELDS_LIMIT`` fields are recorded, each value cut to ``VALUE_LIMIT``; the
    key ``...`` counts the fields left out. Linear in ``text``, however it repeats a name.
    """
    fields, left_out = _fields(text, redactor)
    if left_out:
        fields["..."] = f"[{left_out} more]"
    return fields


def query_fields(query: str, redactor: Redactor) -> dict[str, Any]:
    """The fields of a query string, as ``form_fields`` gives them, reading at most
    ``QUERY_READ_LIMIT`` characters of it (a URL can be far longer than a body's limit)."""
    head, unread = query, 0
    if len(query) > QUERY_READ_LIMIT:
        head = query[:QUERY_READ_LIMIT]
        end = head.rfind("&")
        if end > 0:
            head = head[:end]  # a field cut in two is left out whole
        unread = query.count("&", len(head)) + (0 if end > 0 else 1)
    fields, left_out = _fields(head, redactor)
    if left_out + unread:
        fields["..."] = f"[{left_out + unread} more]"
    return fields


def _fields(text: str, redactor: Redactor) -> tuple[dict[str, Any], int]:
    """The fields of ``text`` as ``form_fields`` records them, and how many were left out."""
    fields: dict[str, Any] = {}
    pairs = text.split("&", FIELDS_LIMIT)
    left_out = pairs.pop().count("&") + 1 if len(pairs) > FIELDS_LIMIT else 0
    encoded = "%" in text or "+" in text
    # No secret word at all, and nothing encoded that could spell one: no name to check.
    check = encoded or redactor.mentions_secret(text)
    for pair in pairs:
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if encoded:
            name, value = unquote_plus(name), unquote_plus(value)
        if check and redactor.secret_field(name):
            value = REDACTED
        elif len(value) > VALUE_LIMIT:
            value = cut(value)
        previous = fields.get(name)
        if previous is None:
            fields[name] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            fields[name] = [previous, value]
    return fields, left_out


def _too_deep(text: str) -> bool:
    """True when JSON text nests deeper than ``DEPTH_LIMIT`` (strings ignored)."""
    if text.count("[") + text.count("{") <= DEPTH_LIMIT:
        return False  # too few brackets to nest that deep: the usual case, no scan
    if '"' in text:
        text = _STRINGS.sub("", text)
    # The running sum of +1/-1 per bracket, all in C (map, accumulate, max).
    return max(accumulate(map(_NESTING.get, text, repeat(0))), default=0) > DEPTH_LIMIT


def _json_encoding(data: bytes) -> str:
    """UTF-8, or UTF-16/32 when a BOM or the NULs of the first bytes say so: JSON is
    read as ``json.loads`` and Flask read it (RFC 4627's detection). Other text is
    UTF-8 or not previewed."""
    if len(data) < 2 or (data[0] not in _SNIFF and data[1]):
        return "utf-8"  # the common case, decided from the first two bytes
    if data.startswith(_UTF32_BOMS):
        return "utf-32"
    if data.startswith(_UTF16_BOMS):
        return "utf-16"
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if len(data) >= 4:
        if not data[0]:
            return "utf-16-be" if data[1] else "utf-32-be"
        if not data[1]:
            return "utf-16-le" if data[2] or data[3] else "utf-32-le"
    elif len(data) == 2:
        if not data[0]:
            return "utf-16-be"
        if not data[1]:
            return "utf-16-le"
    return "utf-8"


def _undecodable(encoding: str, size: int) -> dict[str, Any]:
    if encoding.startswith("utf-8"):
        return marker("not_utf8", length=size)
    return marker("undecodable", length=size, encoding=encoding)
