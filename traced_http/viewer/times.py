"""Parse and format the times the viewer reads and prints.

Events carry epoch seconds (`start_time`) and ISO-8601 UTC stamps (`ts`); the command line
takes ISO dates, epoch seconds or an age such as `15m`. All of it is UTC.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

_AGE = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$")
_AGE_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_iso(stamp: str) -> float | None:
    """Epoch seconds of an ISO-8601 stamp (naive means UTC), or None when it is not one."""
    try:
        when = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def parse_when(text: str, now: float | None = None) -> float:
    """Read a `--since`/`--until` value: ISO date or time, epoch seconds, or an age ago.

    Raises ValueError with a message fit for the user when the value is none of these.
    """
    value = text.strip()
    age = _AGE.match(value)
    if age:
        reference = time.time() if now is None else now
        return reference - float(age.group(1)) * _AGE_SECONDS[age.group(2)]
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return number
    parsed = parse_iso(value)
    if parsed is None:
        raise ValueError(
            f"not a time: {value!r} (use ISO 8601 such as 2026-06-02T07:31, "
            "epoch seconds, or an age such as 15m, 2h, 1d)"
        )
    return parsed


def format_ms(seconds: float | None) -> str:
    """A duration in milliseconds, with the precision a reader can use."""
    if seconds is None:
        return "?"
    ms = seconds * 1000.0
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms:,.0f} ms"


def format_time(epoch: float | None) -> str:
    """A UTC wall-clock time to the millisecond, or `?` when unknown."""
    if epoch is None:
        return "?"
    try:
        when = datetime.fromtimestamp(epoch, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return "?"
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"
