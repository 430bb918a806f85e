"""Read typed values out of event dicts that anyone could have written.

Log data is untrusted: a field may be missing, null or of the wrong type. These helpers
return None instead of raising, so one odd line never stops the viewer.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlsplit


def text(value: Any) -> str | None:
    """A string field, or None."""
    return value if isinstance(value, str) else None


def number(value: Any) -> float | None:
    """A finite number field (not a bool), or None."""
    # Exact type checks: this runs for every event of `list`, and JSON gives no subclasses.
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        result = float(value)
        return result if math.isfinite(result) else None
    return None


def integer(value: Any) -> int | None:
    """An integer field such as a status code, or None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def path_of(msg: dict[str, Any]) -> str | None:
    """The request path: the `path` field, else the path of `url`, without the query."""
    path = text(msg.get("path"))
    if path is not None:
        return path
    url = text(msg.get("url"))
    if url is None:
        return None
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return url
