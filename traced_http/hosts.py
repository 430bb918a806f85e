"""Which outbound hosts may receive trace headers (``propagate_to``)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

__all__ = ["HostMatcher"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class HostMatcher:
    """Host patterns: an exact host, ``*.suffix`` (any subdomain), or ``host:port``.

    ``None`` matches every host: trace headers are sent to every host.
    """

    __slots__ = ("_exact", "_match_all", "_suffixes", "_with_port")

    def __init__(self, patterns: Sequence[str] | None = None) -> None:
        self._match_all = patterns is None
        exact, suffixes, with_port = set(), [], set()
        for pattern in patterns or ():
            pattern = pattern.strip().lower()
            if not pattern:
                raise ValueError("propagate_to: empty host pattern")
            if pattern.startswith("*."):
                suffixes.append(pattern[1:])
            elif pattern.startswith("[") and "]:" in pattern:  # [::1]:8080
                host, _, port = pattern[1:].partition("]:")
                with_port.add(f"{host}:{port}")
            elif pattern.startswith("[") or pattern.count(":") != 1:
                exact.add(pattern.strip("[]"))
            else:
                with_port.add(pattern)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        self._with_port = frozenset(with_port)

    def allows(self, url: str) -> bool:
        """True when a call to ``url`` may carry trace headers."""
        if self._match_all:
            return True
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:
            return False
        if host in self._exact or host.endswith(self._suffixes):
            return True
        return f"{host}:{port}" in self._with_port
