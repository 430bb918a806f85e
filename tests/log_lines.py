"""Log lines exactly as a file would hold them, for tests that check the text itself."""

from __future__ import annotations

import logging

from traced_http import JsonFormatter


class WrittenLines(logging.Handler):
    """The ``traced_http`` logger's records as a log file holds them: each one through the
    JSON formatter, then a line end."""

    def __init__(self) -> None:
        super().__init__()
        self.formatted: list[str] = []  # one string per record
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.formatted.append(self.format(record))

    @property
    def text(self) -> str:
        """What the file holds."""
        return "".join(f"{line}\n" for line in self.formatted)

    def take(self) -> list[str]:
        """The file's lines so far, split as a reader splits them; then start afresh."""
        lines = self.text.splitlines()
        self.formatted.clear()
        return lines
