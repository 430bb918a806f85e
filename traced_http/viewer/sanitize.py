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


def clean(text: str) -> str:
    """Return `text` with every control character shown as a visible escape."""
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)
