"""Colours for terminal output, or none at all when piped or asked.

Only this module knows ANSI codes; renderers ask for a role ("error", "dim") or a
service's colour, and get plain text back when colour is off.
"""

from __future__ import annotations

import os
from typing import TextIO

_RESET = "\x1b[0m"
_ROLES = {
    "bold": "1",
    "dim": "2",
    "error": "1;31",
    "ok": "32",
    "redirect": "36",
    "client_error": "33",
    "orphan": "35",
    "header": "1;4",
}
_SERVICE_COLOURS = ("36", "35", "34", "33", "32", "96", "95", "94", "93", "92")


def colour_wanted(stream: TextIO, disabled: bool) -> bool:
    """Colour only on a terminal, and never when `--no-color` or `NO_COLOR` says so."""
    if disabled or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Style:
    """Paints text by role; a service keeps the same colour for the whole output."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._services: dict[str, str] = {}

    def paint(self, text: str, role: str) -> str:
        """`text` in the colour of `role` (a key of the role table)."""
        if not self.enabled or not text:
            return text
        return f"\x1b[{_ROLES[role]}m{text}{_RESET}"

    def service(self, text: str, service: str) -> str:
        """`text` in the colour given to `service` on first sight."""
        if not self.enabled or not text:
            return text
        code = self._services.get(service)
        if code is None:
            code = _SERVICE_COLOURS[len(self._services) % len(_SERVICE_COLOURS)]
            self._services[service] = code
        return f"\x1b[{code}m{text}{_RESET}"

    def status(self, text: str, status: int | None, failed: bool) -> str:
        """A status cell coloured by its class: 2xx green, 3xx cyan, 4xx yellow, errors red."""
        if failed:
            return self.paint(text, "error")
        if status is None:
            return self.paint(text, "dim")
        if status < 300:
            return self.paint(text, "ok")
        if status < 400:
            return self.paint(text, "redirect")
        return self.paint(text, "client_error")
