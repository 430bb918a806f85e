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


def findings(line: str) -> list[str]:
    """Why ``line`` (one event as logged) is wrong: not one JSON object, or a secret in it."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        return [f"not JSON ({exc}): {line[:300]}"]
    if not isinstance(event, dict) or not set(event) >= _EVENT_KEYS:
        return [f"not an event object: {line[:300]}"]
    found = [f"literal secret {secret!r}" for secret in LITERALS if secret in line]
    if _AUTH_VALUE.search(line):
        found.append(f"credentials of an auth scheme: {_AUTH_VALUE.search(line)[0]!r}")
    if _USERINFO.search(line):
        found.append(f"userinfo in a URL: {_USERINFO.search(line)[0]!r}")
    found += _secret_fields(event.get("msg_dict"), "msg_dict")
    return [f"{problem} in {line[:300]}" for problem in found]


def _secret_fields(value: Any, path: str) -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key).lower().replace("-", "_")
            if any(word in name for word in SECRET_WORDS) and item not in (REDACTED, None, ""):
                found.append(f"{path}.{key} not redacted: {str(item)[:80]!r}")
            else:
                found += _secret_fields(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found += _secret_fields(item, f"{path}[{n}]")
    return found
