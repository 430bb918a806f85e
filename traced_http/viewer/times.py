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


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$")


def parse_duration(text: str) -> float:
    """Read a `--slower-than` value in seconds: `250ms`, `1.5s`, `2m`; a bare number is ms.

    Raises ValueError with a message fit for the user when the value is not a duration.
    """
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(
            f"not a duration: {text!r} (use a number with a unit: 250ms, 1.5s, 2m; "
            "a bare number is milliseconds)"
        )
    return float(match.group(1)) * _AGE_SECONDS[match.group(2) or "ms"]


def axis_fraction(time: float, start: float, end: float) -> float:
    """Where `time` falls on the axis from `start` to `end`, from 0.0 to 1.0.

    Computed on halves, so that times far apart (a clock set to year 1 and one to year
    9999, or worse) cannot overflow to infinity and give NaN: the result is always a number.
    """
    half_length = end * 0.5 - start * 0.5
    if not half_length > 0.0:
        return 0.0
    fraction = (time * 0.5 - start * 0.5) / half_length
    if math.isnan(fraction):
        return 0.0
    return min(1.0, max(0.0, fraction))


def format_ms(seconds: float | None) -> str:
    """A duration in milliseconds, with the precision a reader can use."""
    if seconds is None:
        return "?"
    ms = seconds * 1000.0
    if not math.isfinite(ms):
        return "?"
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
