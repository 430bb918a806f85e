"""Keep secrets out of logs: headers, URL credentials, and secret-named fields at any depth.

Every function here is linear in the length of what it is given (no regular expression
that can backtrack over its input), and callers cut what they give it to a bound first:
see ``cut`` and ``VALUE_LIMIT``. The rules are written down in docs/redaction.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import unquote_plus, urlsplit, urlunsplit

__all__ = [
    "DEFAULT_REDACT_FIELDS",
    "DEFAULT_REDACT_HEADERS",
    "FIELDS_LIMIT",
    "REDACTED",
    "VALUE_LIMIT",
    "Redactor",
    "cut",
]

REDACTED = "[REDACTED]"
DEFAULT_REDACT_HEADERS = (
    "Authorization",
    "Cookie",
    "Set-Cookie",
    "Proxy-Authorization",
    "X-Api-Key",
)
DEFAULT_REDACT_FIELDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "privatekey",
    "jwt",
    "session_id",
    "sessionid",
    "csrf",
    "xsrf",
)
# A header value, a URL or a path is cut to this many characters before anything reads it.
VALUE_LIMIT = 2048
# At most this many query or form fields are recorded; the rest are counted.
FIELDS_LIMIT = 64
_CACHE_LIMIT = 1024
_SHORT = 256  # up to this length, one regular-expression search beats a search per word
_CACHED_NAME_LIMIT = 64  # a client chooses header names: long ones are not kept
# A field whose name holds a secret word, then ``=`` or ``:``, then its value. Matched on
# the normalized text (lowercase, ``-`` as ``_``; positions are those of the original).
# Linear: a name is only tried where a run of name characters starts (the lookbehind);
# the word is looked for inside that run only, by a lookahead, and the run is then taken
# whole by a lookahead and a backreference (atomic, so never rescanned); a value always
# matches, so nothing before it is tried again. A quoted value ends at its closing quote
# (or the end of a cut text); an object or list value is measured by ``_closing_bracket``;
# a bare value ends at the next field separator, and after ``:`` (a header-like line,
# ``Authorization: Bearer x``) at a line break, not at a space.
# Name characters: ``user[password]``, ``user%5Bpassword%5D``, ``db.password``, ``x+api_key``.
_FIELD = (
    r"(?<![\w.\[\]%+])(?=[\w.\[\]%+]*?(?:{words}))(?=(?P<name>[\w.\[\]%+]*))(?P=name)"
    r"(?P<quote>[\"']?)[ \t]*(?:(?P<eq>=)|:)(?=(?P<space>[ \t]*))(?P=space)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"?|'(?:[^'\\]|\\.)*'?|(?=[{{\[])"
    r"|(?(eq)[^&,;\s}}\]]*|[^&,;\r\n}}\]]*))"
)
# The start tag of an XML element whose name holds a secret word: ``<wsse:Password ...>``.
_ELEMENT = r"<(?=[\w.:]{{0,64}}?(?:{words}))(?P<tag>[\w.:]+)(?:\s[^<>]*)?(?<!/)>"
# JSON strings (skipped whole, an unterminated one to the end) and brackets.
_BRACKETS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_BRACKET_TOKENS = 256
# The userinfo of a URL in free text, ``://user:password@`` (an authority ends at the
# path, so one never overlaps the next: linear).
_USERINFO = re.compile(r"://[^/?#\s\"'<>\\]*@")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ-", "abcdefghijklmnopqrstuvwxyz_")


def _normalized(name: str) -> str:
    """A name as secret words are compared: lowercase, ``-`` read as ``_``."""
    lowered = name.lower()
    if len(lowered) != len(name):  # a few characters lowercase to two (İ): keep positions
        return name.translate(_ASCII_LOWER)
    return lowered.replace("-", "_")


def cut(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with a marker of its full length."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[cut, {len(text)} in all]"


class Redactor:
    """Decides what is secret; built once from the configured lists.

    A header is secret when its name is listed, or when it contains a secret field word
    (``X-Auth-Token``, ``X-Goog-Api-Key`` too). A field (query, form, JSON or XML name)
    is secret when its name contains one of the words. Names and words are compared
    lowercased, with ``-`` and ``_`` alike, so ``access_token`` and ``Api-Key`` are caught.
    """

    __slots__ = ("_any_word", "_element", "_field", "_fields", "_header_cache", "_headers")

    def __init__(
        self,
        headers: Sequence[str] = DEFAULT_REDACT_HEADERS,
        fields: Sequence[str] = DEFAULT_REDACT_FIELDS,
    ) -> None:
        self._headers = frozenset(_normalized(h) for h in headers)
        self._fields = tuple(dict.fromkeys(_normalized(f) for f in fields if f))
        self._header_cache: dict[str, bool] = {}
        words = "|".join(map(re.escape, self._fields)) or "(?!)"
        self._any_word = re.compile(words)
        self._field = re.compile(_FIELD.format(words=words), re.DOTALL)
        self._element = re.compile(_ELEMENT.format(words=words))

    def secret_header(self, name: str) -> bool:
        """True when the header's value must not be logged."""
        cached = self._header_cache.get(name)
        if cached is None:
            cached = _normalized(name) in self._headers or self.mentions_secret(name)
            if len(name) <= _CACHED_NAME_LIMIT and len(self._header_cache) < _CACHE_LIMIT:
                self._header_cache[name] = cached
        return cached

    def secret_field(self, name: str) -> bool:
        """True when a query, form, JSON or XML field of this name must not be logged."""
        return self.mentions_secret(name)

    def mentions_secret(self, text: str) -> bool:
        """Cheap pre-check: could ``text`` hold a secret field at all?"""
        lowered = _normalized(text)
        if len(lowered) <= _SHORT:
            return self._any_word.search(lowered) is not None
        # On a long text, one C string search per word is faster than the expression.
        return any(word in lowered for word in self._fields)

    def text(self, text: str) -> str:
        """Free text (a cut body, an exception message) with every secret hidden.

        Hidden: the userinfo of any URL (``scheme://user:pw@host``), and the value of any
        secret-named field written as ``name=value``, ``"name": value``, ``name: value``
        or ``<name>value</name>``. A value that is an object, a list or nested elements
        is hidden whole, up to its end, or to the end of a text cut inside it. Past
        ``FIELDS_LIMIT`` secrets (of each kind) the rest of the text is hidden. Linear in
        the length of ``text``.
        """
        if "@" in text and "://" in text:
            text = _USERINFO.sub("://" + REDACTED + "@", text)
        if not self.mentions_secret(text):
            return text
        low = _normalized(text)
        if "<" in low:
            text = self._hide_elements(text, low)
            low = _normalized(text)
        parts: list[str] = []
        done = 0
        search = self._field.search
        match = search(low)
        while match is not None:
            start = match.start("value")
            if len(parts) >= 2 * FIELDS_LIMIT:  # past that many secrets, hide the rest
                parts.append(text[done:start] + REDACTED)
                done = len(text)
                break
            first = low[start : start + 1]
            if first == "{" or first == "[":
                end = _closing_bracket(low, start)
                quote = match.group("quote")  # "name": {...} gives "name": "[REDACTED]"
            else:
                end = match.end()
                quote = first if first == '"' or first == "'" else ""
            parts.append(text[done:start])
            parts.append(quote + REDACTED + quote)
            done = end
            match = search(low, done)  # what is hidden is not read again
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def _hide_elements(self, text: str, low: str) -> str:
        """``<wsse:Password>x</wsse:Password>`` without its ``x``; nested elements whole."""
        parts: list[str] = []
        done = 0
        search = self._element.search
        match = search(low)
        while match is not None:
            start = match.end()
            if len(parts) >= 2 * FIELDS_LIMIT:  # past that many secret elements, hide the rest
                end = -1
            elif low.startswith("<", start) and not low.startswith("</", start):
                end = low.find("</" + match.group("tag"), start)
            else:
                end = low.find("<", start)
            parts.append(text[done:start])
            parts.append(REDACTED)
            done = len(low) if end < 0 else end
            match = search(low, done)
        if not parts:
            return text
        parts.append(text[done:])
        return "".join(parts)

    def url(self, url: str) -> str:
        """``url`` cut to ``VALUE_LIMIT``, without userinfo, secret query and fragment fields."""
        if len(url) > VALUE_LIMIT:
            return self.url(url[:VALUE_LIMIT]) + f"...[cut, {len(url)} in all]"
        if "@" not in url and "?" not in url and "#" not in url:
            return url
        if "@" in url and "://" in url:  # also a URL inside the value (``Refresh: 0; url=...``)
            url = _USERINFO.sub("://" + REDACTED + "@", url)
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
        """A query string with the values of secret fields hidden, the rest untouched.

        Linear: one split, one check per field (a field name is decoded only when the
        query mentions a secret word at all).
        """
        if not query or not self.mentions_secret(unquote_plus(query)):
            return query
        out = []
        secret: dict[str, bool] = {}  # by name: a name repeated is checked once
        for pair in query.split("&"):
            name = pair.partition("=")[0]
            hidden = secret.get(name)
            if hidden is None:
                decoded = unquote_plus(name) if "%" in name or "+" in name else name
                hidden = secret[name] = self.secret_field(decoded)
            out.append(name + "=" + REDACTED if hidden else pair)
        return "&".join(out)


def _closing_bracket(text: str, start: int) -> int:
    """The index after the bracket that closes the one at ``start`` (JSON strings skipped).

    The end of the text when it is cut inside the value, or when the value holds more
    than ``_BRACKET_TOKENS`` strings and brackets: hiding too much is the safe side.
    """
    depth = 0
    for count, token in enumerate(_BRACKETS.finditer(text, start)):
        if count >= _BRACKET_TOKENS:
            break
        char = token.group()
        if char == "{" or char == "[":
            depth += 1
        elif char == "}" or char == "]":
            depth -= 1
            if depth == 0:
                return token.end()
    return len(text)
