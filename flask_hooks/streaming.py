"""Watch a streamed response to the end, so that its ``end`` event tells how it ended.

The hooks never read the stream: this wrapper passes each chunk through and, when the
server closes it, reports whether it completed, raised, or was cut by the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Callable

from traced_http.context import TraceContext, activate, deactivate
from traced_http.events import error_info
from traced_http.redaction import Redactor

__all__ = ["WatchedStream", "stream_error"]

_DISCONNECTED = {
    "type": "ClientDisconnected",
    "message": "the client went away before the end of the streamed response",
}


class WatchedStream:
    """A WSGI response iterable that calls ``on_end(error, finished, bytes_sent)`` once,
    at close.

    Each chunk is produced with ``ctx`` active: the server iterates the body after the
    request's teardown reset the context, and code in the generator logs with the trace.
    """

    __slots__ = (
        "_close_inner",
        "_ctx",
        "_done",
        "_error",
        "_finished",
        "_iter",
        "_on_end",
        "_sent",
    )

    def __init__(
        self,
        iterable: Iterable[Any],
        on_end: Callable[[BaseException | None, bool, int], None],
        ctx: TraceContext | None = None,
    ) -> None:
        self._iter: Iterator[Any] = iter(iterable)
        self._ctx = ctx
        self._close_inner = getattr(iterable, "close", None)
        self._on_end = on_end
        self._error: BaseException | None = None
        self._finished = False
        self._done = False
        self._sent = 0

    def __iter__(self) -> WatchedStream:
        return self

    def __next__(self) -> Any:
        token = activate(self._ctx) if self._ctx is not None else None
        try:
            chunk = self._iter.__next__()
        except StopIteration:
            self._finished = True
            raise
        except BaseException as exc:
            self._error = exc
            raise
        finally:
            if token is not None:
                deactivate(token)
        # Werkzeug encodes str chunks after us: count what goes on the wire.
        self._sent += len(chunk) if type(chunk) is bytes else len(str(chunk).encode())
        return chunk

    def close(self) -> None:
        try:
            if self._close_inner is not None:
                self._close_inner()
        finally:
            if not self._done:
                self._done = True
                self._on_end(self._error, self._finished, self._sent)


def stream_error(
    error: BaseException | None, finished: bool, head: bool, redactor: Redactor
) -> dict[str, str] | None:
    """How a stream ended badly, or None when it completed (a HEAD sends no body)."""
    if error is not None:
        return error_info(error, redactor)
    if not finished and not head:
        return dict(_DISCONNECTED)
    return None
