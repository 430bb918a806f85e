"""The request body as the application read it, recorded on the way past.

The hooks never read a request body themselves: reading it before the view would take
decisions that belong to Flask and the application (a ``max_content_length`` lowered for
one request, a view that answers before reading, a proxy or a signature check that
wants the raw ``wsgi.input``). Instead ``wsgi.input`` is wrapped in a ``RecordedInput``
that passes every read straight through and keeps a copy of the first ``limit`` bytes,
whoever reads them (``request.get_json()``, ``request.form``, ``request.stream``,
``request.input_stream``); the ``end`` event describes what was read.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from traced_http.bodies import body_kind, content_length
from traced_http.settings import TraceSettings

__all__ = ["BODYLESS", "RecordedInput", "request_length", "watch_body"]

# Methods whose request_data is the query string: their body is ignored.
BODYLESS = frozenset(("GET", "HEAD", "OPTIONS", "DELETE", "TRACE"))


def watch_body(environ: MutableMapping[str, Any], settings: TraceSettings) -> RecordedInput | None:
    """Start recording the body when it is one the events capture, else None.

    Only a body with a ``Content-Length`` and a textual content type is recorded; a
    binary body or a multipart upload is never looked at, even in passing.
    """
    if not settings.capture_bodies or environ.get("REQUEST_METHOD") in BODYLESS:
        return None
    length = request_length(environ)
    if not length:
        return None
    kind = body_kind(environ.get("CONTENT_TYPE"))
    if kind is None:
        return None
    original = environ.get("wsgi.input")
    if original is None:
        return None
    recorded = environ["wsgi.input"] = RecordedInput(original, settings.body_limit, kind, length)
    return recorded


def request_length(environ: Mapping[str, Any]) -> int | None:
    """The ``Content-Length`` of the request, when it is a plain decimal number."""
    return content_length(environ.get("CONTENT_LENGTH"))


class RecordedInput:
    """A WSGI input stream that records the first ``limit`` bytes read through it.

    Every read is passed to the server's stream as it was asked for (same arguments,
    same result), so the application sees no difference; memory is bounded by ``limit``
    whatever the size of the body. Other attributes (``close``, ``fileno``...) are the
    server stream's own. ``kind`` and ``length`` describe the body (its capture kind and
    its ``Content-Length``).

    Once ``limit`` bytes are recorded, the reading methods are replaced, on the instance,
    by the server stream's own: the rest of a 10 MB body costs nothing more than it
    would untraced (``seen`` then stops counting; it is at least ``limit``).
    """

    def __init__(self, inner: Any, limit: int, kind: str, length: int) -> None:
        self.inner = inner
        self.limit = limit
        self.kind = kind
        self.length = length
        self.head = bytearray()
        self.seen = 0  # bytes read through this stream, until the head is recorded
        self._inner_readinto = getattr(inner, "readinto", None)

    def restore(self, environ: MutableMapping[str, Any]) -> None:
        """Give ``wsgi.input`` back as the server passed it (a redirect that re-sends the
        request, such as Werkzeug's test client following a 307, reads it again)."""
        if environ.get("wsgi.input") is self:
            environ["wsgi.input"] = self.inner

    def readinto(self, buffer: Any) -> int | None:
        """What Werkzeug's ``LimitedStream`` calls; a server stream without ``readinto``
        (gunicorn's) is read with ``read`` instead, as ``LimitedStream`` would."""
        readinto = self._inner_readinto
        if readinto is None:
            data = self.inner.read(len(buffer))
            size: int | None = len(data)
            buffer[: len(data)] = data
        else:
            size = readinto(buffer)
        if size:
            self._record(buffer[:size])
        return size

    def read(self, *size: int | None) -> bytes:
        data: bytes = self.inner.read(*size)
        self._record(data)
        return data

    def readline(self, *size: int | None) -> bytes:
        data: bytes = self.inner.readline(*size)
        self._record(data)
        return data

    def readlines(self, *hint: int) -> list[bytes]:
        lines: list[bytes] = self.inner.readlines(*hint)
        for line in lines:
            self._record(line)
        return lines

    def __iter__(self) -> RecordedInput:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def __getattr__(self, name: str) -> Any:
        # object.__getattribute__: no recursion when ``inner`` is not set (a copy).
        return getattr(object.__getattribute__(self, "inner"), name)

    def _record(self, data: Any) -> None:
        size = len(data)
        if size:
            self.seen += size
            room = self.limit - len(self.head)
            if size < room:
                self.head += data
            else:
                self.head += data[:room]
                self._pass_through()

    def _pass_through(self) -> None:
        inner = self.inner
        self.read = inner.read  # type: ignore[method-assign]
        self.readline = inner.readline  # type: ignore[method-assign]
        self.readlines = inner.readlines  # type: ignore[method-assign]
        if self._inner_readinto is not None:
            self.readinto = self._inner_readinto  # type: ignore[method-assign]
