"""Make data strings safe to print on a terminal.

Log lines are written by whoever can reach a service: a URL, header or error message may
carry ANSI escapes or bidi overrides that would rewrite the operator's screen. Every data
string goes through `clean` before it is printed.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, line/paragraph separators and the bidi embedding/override/isolate
# marks ("Trojan Source"): none of them may reach the terminal as they are.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# The same characters as they can appear in JSON text, where C0 controls are already
# escaped by `json.dumps`, plus lone surrogates (a `"\ud800"` escape in a log line), which
# no UTF-8 writer can encode.
_UNSAFE_IN_JSON = re.compile(
    "[\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def clean_json(text: str) -> str:
    """Return JSON text with those characters written as `\\uXXXX` escapes.

    Outside strings JSON text is ASCII, so this only rewrites string contents, and the
    result decodes to exactly the same data.
    """
    if _UNSAFE_IN_JSON.search(text) is None:
        return text
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def clean(text: str) -> str:
    """Return `text` with every control character shown as a visible escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def clip(text: str, width: int) -> str:
    """Return `text` cut to `width` characters for a terminal column, ending in "…" if cut."""
    return text if len(text) <= width else text[: width - 1] + "…"
