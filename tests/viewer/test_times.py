"""--since/--until values and the duration format used everywhere."""

from __future__ import annotations

import pytest

from traced_http.viewer.times import axis_fraction, format_ms, parse_duration, parse_when

NOW = 1_780_385_486.0  # 2026-06-02T07:31:26Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-02T07:31:26Z", NOW),
        ("2026-06-02T07:31:26", NOW),  # naive means UTC
        ("2026-06-02T09:31:26+02:00", NOW),
        ("2026-06-02", NOW - (7 * 3600 + 31 * 60 + 26)),
        ("1780385486", NOW),
        ("15m", NOW - 900),
        ("2h", NOW - 7200),
        ("1d", NOW - 86400),
        ("1.5s", NOW - 1.5),
    ],
)
def test_parse_when(text: str, expected: float) -> None:
    assert parse_when(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["yesterday", "15 minutes", "", "nan", "inf"])
def test_parse_when_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a time"):
        parse_when(text, now=NOW)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "?"), (0.0, "0.00 ms"), (0.00123, "1.23 ms"), (0.2, "200.0 ms"), (12.5, "12,500 ms")],
)
def test_format_ms(seconds: float | None, shown: str) -> None:
    assert format_ms(seconds) == shown


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("150", 0.150), ("150ms", 0.150), ("0.25s", 0.25), ("2 s", 2.0), ("1m", 60.0), ("1h", 3600.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["fast", "-5ms", "10 parsecs", "", "nan"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("time", "start", "end", "fraction"),
    [
        (5.0, 0.0, 10.0, 0.5),
        (-1.0, 0.0, 10.0, 0.0),
        (11.0, 0.0, 10.0, 1.0),
        (0.0, -1e308, 1e308, 0.5),  # the length overflows to inf when not halved
        (1e308, -1e308, 1e308, 1.0),
        (1.0, 1.0, 1.0, 0.0),  # an axis of no length
    ],
)
def test_axis_fraction_is_always_a_number(
    time: float, start: float, end: float, fraction: float
) -> None:
    assert axis_fraction(time, start, end) == pytest.approx(fraction)
