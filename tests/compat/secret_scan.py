"""What an event line must never hold: the secrets the upstream suites send, in any form."""

from __future__ import annotations

import json
import re
from typing import Any

# Secret values the upstream suites send in headers, URLs and bodies: a basic-auth header
# for user:pass, a URL fragment token, a proxy password, Flask's test secret key.
LITERALS = (
    "dXNlcjpwYXNz",  # base64 of "user:pass", the Authorization value of httpbin's basic-auth
    "hunter2",
    "xa9zZXJuYW1lOnRlc3TGtg==",
    "test key",
)
# Header and field names whose values are redacted; names compared case-insensitively with
# "-" and "_" alike, a name holding one of the words counts.
SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "credential",
    "private_key",
    "jwt",
    "session_id",
    "sessionid",
)
REDACTED = "[REDACTED]"
_AUTH_VALUE = re.compile(r"\b(Basic|Bearer|Digest)\s+[A-Za-z0-9+/=_.-]{6,}")
_USERINFO = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@\"']*:[^/\s@\"']+@", re.IGNORECASE)
_EVENT_KEYS = {"ts", "service", "traceid", "span_id", "parent_id", "trace_index", "event_des"}


def findings(line: str) -> list[tuple[str, str]]:
    """What is wrong with ``line`` (one event as logged), as (where in the event, what).

    Not one JSON object; a secret the suites send; an auth scheme's credentials; userinfo
    in a URL; a field named like a secret whose value is not redacted.
    """
    try:
        event = json.loads(line)
    except ValueError as exc:
        return [("", f"not JSON ({exc}): {line[:300]}")]
    if not isinstance(event, dict) or not set(event) >= _EVENT_KEYS:
        return [("", f"not an event object: {line[:300]}")]
    return _scan(event, "")


def _scan(value: Any, path: str) -> list[tuple[str, str]]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            name = str(key).lower().replace("-", "_")
            if any(word in name for word in SECRET_WORDS) and item not in (REDACTED, None, ""):
                found.append((where, f"not redacted: {str(item)[:80]!r}"))
            else:
                found += _scan(item, where)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += _scan(item, f"{path}[{n}]")
    elif isinstance(value, str):
        found += [(path, f"secret {secret!r}") for secret in LITERALS if secret in value]
        for pattern in (_AUTH_VALUE, _USERINFO):
            match = pattern.search(value)
            if match:
                found.append((path, f"credentials: {match[0]!r}"))
    return found
