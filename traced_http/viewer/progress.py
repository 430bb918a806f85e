"""A one-line progress report on standard error while large inputs are read.

Shown only on a terminal and only once reading has taken a moment, so small inputs and
pipelines stay quiet; the line is erased when reading ends. The viewer's commands and
``export`` both draw it.
"""

from __future__ import annotations

import time
from typing import Callable, TextIO

from traced_http.viewer.reader import ReadCounts

DELAY = 0.5
INTERVAL = 0.2


class Progress:
    """Rewrites one stderr line with bytes, lines and (when known) percent read.

    ``activity`` starts the line ("reading", "exporting"); ``suffix``, when given, returns
    what the command adds at its end (the spans ``export`` has sent so far).
    """

    def __init__(
        self,
        stream: TextIO,
        total_bytes: int | None,
        *,
        activity: str = "reading",
        suffix: Callable[[], str] | None = None,
    ) -> None:
        self._stream = stream
        self._total = total_bytes
        self._activity = activity
        self._suffix = suffix
        self._began = time.monotonic()
        self._last = self._began
        self._shown = False

    def update(self, counts: ReadCounts) -> None:
        """Called after each block; redraws at most every INTERVAL seconds."""
        now = time.monotonic()
        if now - self._began < DELAY or now - self._last < INTERVAL:
            return
        self._last = now
        megabytes = counts.bytes_read / 1e6
        rate = megabytes / (now - self._began)
        line = f"{self._activity}: {megabytes:,.0f} MB, {counts.lines:,} lines, {rate:,.0f} MB/s"
        if self._total:
            line += f", {min(100.0, counts.bytes_read * 100 / self._total):.0f}%"
        if self._suffix is not None:
            line += self._suffix()
        self._stream.write("\r" + line + "\x1b[K")
        self._stream.flush()
        self._shown = True

    def finish(self) -> None:
        """Erase the progress line, if one was drawn."""
        if self._shown:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self._shown = False
