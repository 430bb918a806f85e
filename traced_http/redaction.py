"""Keep secrets out of logs: headers, URL credentials, and secret-named fields at any depth."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = ["DEFAULT_REDACT_FIELDS", "DEFAULT_REDACT_HEADERS", "REDACTED", "Redactor"]

REDACTED = "[REDACTED]"
DEFAULT_REDACT_HEADERS = (
    "Authorization",
    "Cookie",
    "Set-Cookie",
    "Proxy-Authorization",
    "X-Api-Key",
)
DEFAULT_REDACT_FIELDS = ("password", "passwd", "secret", "token", "api_key", "apikey")
_MAX_DEPTH = 32
_CACHE_LIMIT = 1024


class Redactor:
    """Decides what is secret; built once from the configured lists.

    A header is secret when its name is listed, or when it contains a secret field word
    (``X-Auth-Token`` too). A field (query, form or JSON key) is secret when its name
    contains one of the words, case-insensitively, so ``access_token`` is caught.
    """

    __slots__ = ("_fields", "_header_cache", "_headers", "_text_pattern")

    def __init__(
        self,
        headers: Sequence[str] = DEFAULT_REDACT_HEADERS,
        fields: Sequence[str] = DEFAULT_REDACT_FIELDS,
    ) -> None:
        self._headers = frozenset(h.lower() for h in headers)
        self._fields = tuple(f.lower() for f in fields if f)
        self._header_cache: dict[str, bool] = {}
        words = "|".join(re.escape(f) for f in self._fields) or r"(?!)"
        # key=value, "key": value, 'key': value or key: value inside a text we cannot
        # parse (a cut or broken body, a Python or JS literal, an exception message); a
        # JSON key may hold escapes ("na\u00efve_token", as json.dumps writes it).
        self._text_pattern = re.compile(
            r"""(?ix)
            (?P<key>"(?:[^"\\]|\\.){0,200}(?:"""
            + words
            + r""")(?:[^"\\]|\\.){0,200}"\s*[:=]\s*|'(?:[^'\\]|\\.){0,200}(?:"""
            + words
            + r""")(?:[^'\\]|\\.){0,200}'\s*[:=]\s*|[\w.\-\[\]]{0,200}(?:"""
            + words
            + r""")[\w.\-\[\]]{0,200}\s*[:=]\s*)
            (?P<value>"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?|[^&,;\s}\]]*)"""
        )

    def secret_header(self, name: str) -> bool:
        """True when the header's value must not be logged."""
        cached = self._header_cache.get(name)
        if cached is None:
            lowered = name.lower()
            cached = lowered in self._headers or any(f in lowered for f in self._fields)
            if len(self._header_cache) < _CACHE_LIMIT:
                self._header_cache[name] = cached
        return cached

    def secret_field(self, name: str) -> bool:
        """True when a query, form or JSON field of this name must not be logged."""
        lowered = name.lower()
        return any(f in lowered for f in self._fields)

    def mentions_secret(self, text: str) -> bool:
        """Cheap pre-check: could ``text`` hold a secret field at all?"""
        lowered = text.lower()
        return any(f in lowered for f in self._fields)

    def value(self, obj: Any, _depth: int = 0) -> Any:
        """A copy of a JSON-like value with secret fields replaced, at any depth."""
        if _depth > _MAX_DEPTH:
            return "[TOO DEEP]"
        if isinstance(obj, dict):
            return {
                k: REDACTED
                if isinstance(k, str) and self.secret_field(k)
                else self.value(v, _depth + 1)
                for k, v in obj.items()
            }
        if isinstance(obj, list):
            return [self.value(v, _depth + 1) for v in obj]
        return obj

    def text(self, text: str) -> str:
        """``text`` with values of secret-looking ``key=value`` / ``"key": value`` pairs hidden.

        A value that is an object or a list (``"token": {"a": "..."}``) is hidden whole,
        up to its closing bracket, or to the end of a text cut inside it.
        """
        if not self.mentions_secret(text):
            return text
        parts = []
        pos = 0
        while True:
            match = self._text_pattern.search(text, pos)
            if match is None:
                break
            value_start = match.start("value")
            if text.startswith(("{", "["), value_start):
                end = _closing_bracket(text, value_start)
                hidden = _hidden(match.group("key"))  # quoted after a JSON "key":
            else:
                end, hidden = match.end(), _hidden(match.group("value"))
            parts.append(text[pos : match.start()] + match.group("key") + hidden)
            pos = end
        parts.append(text[pos:])
        return "".join(parts)

    def url(self, url: str) -> str:
        """``url`` without userinfo credentials, secret query and fragment fields hidden."""
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = REDACTED + "@" + netloc.rpartition("@")[2]
        query = self.query(parts.query)
        fragment = self.query(parts.fragment)  # "#access_token=..." (OAuth implicit flow)
        if netloc is parts.netloc and query is parts.query and fragment is parts.fragment:
            return url
        return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))

    def query(self, query: str) -> str:
        """A query string with the values of secret fields hidden, the rest untouched."""
        if not query or not self.mentions_secret(unquote_plus(query)):
            return query
        out = []
        for pair in query.split("&"):
            name = pair.partition("=")[0]
            out.append(name + "=" + REDACTED if self.secret_field(unquote_plus(name)) else pair)
        return "&".join(out)


def _hidden(value: str) -> str:
    quote = value[:1]
    return quote + REDACTED + quote if quote in ('"', "'") else REDACTED


def _closing_bracket(text: str, start: int) -> int:
    """The index after the bracket that closes the one at ``start`` (JSON strings skipped)."""
    depth = 0
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)
