"""Raw sockets on 127.0.0.1, for the faults no real server makes on demand.

``closed_url()``: an address that refuses connections. ``RawServer``: an HTTP server
written by hand, one behaviour per test (hang, cut a body, drop a request...).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Callable

WAIT = 5.0  # the longest a server thread may take to notice that the test is over

Answer = Callable[[socket.socket, threading.Event], None]


def closed_url(path: str = "") -> str:
    """A URL on 127.0.0.1 whose port nothing listens on (bound, then closed): refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}{path}"


def read_request_head(conn: socket.socket) -> bool:
    """Read up to the end of a request's head; False when the client closed first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        data += chunk
    return True


class RawServer:
    """An HTTP server on a free loopback port: ``answer(conn, stopping)`` writes the reply.

    Each connection gets its own thread, which reads the request head, then calls
    ``answer``; the connection is closed when it returns. ``stop()`` shuts every
    connection from outside and sets ``stopping``, so a handler that hangs never outlives
    the test.
    """

    def __init__(self, answer: Answer, path: str = "/") -> None:
        self.answer = answer
        self.stopping = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"
        self.conns: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.stopping.is_set():
                conn.close()
                return
            self.conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if read_request_head(conn):
                    self.answer(conn, self.stopping)
            except OSError:
                pass

    def stop(self) -> None:
        self.stopping.set()
        # Closing a listening socket does not wake a thread blocked in accept(): a connection does.
        with contextlib.suppress(OSError):
            socket.create_connection(self.listener.getsockname(), timeout=WAIT).close()
        self.accepter.join(timeout=WAIT)
        self.listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=WAIT)
