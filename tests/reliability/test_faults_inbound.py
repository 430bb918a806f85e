"""Inbound faults: however a request ends, it ends with one ``end`` event saying how.

The streamed cases run on a real threaded server: the end of a stream is written when
the server closes it, after the view returned, so the tests wait for it with a bounded
poll on the captured events.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask, Response

from traced_http.testing import events_of, serve_app

WAIT = 10.0


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _wait_for_end(events: list[dict[str, Any]]) -> dict[str, Any]:
    _wait_for(lambda: bool(events_of(events, "end")), "the end event")
    (end,) = events_of(events, "end")
    return end


class Boom(RuntimeError):
    pass


def test_a_view_that_raises_ends_with_one_end_event_carrying_the_error(
    make_app: Callable[..., Flask], trace_events: list[dict[str, Any]]
) -> None:
    app = make_app("svc")

    @app.route("/boom")
    def boom() -> str:
        raise Boom("the view failed")

    response = app.test_client().get("/boom")

    assert response.status_code == 500
    (start,) = events_of(trace_events, "start")
    (end,) = events_of(trace_events, "end")
    assert trace_events[-1] is end
    assert end["span_id"] == start["span_id"]
    assert end["msg_dict"]["status_code"] == 500
    assert end["msg_dict"]["error"] == {"type": "Boom", "message": "the view failed"}


def test_a_stream_whose_generator_raises_midway_ends_with_the_error(
    make_app: Callable[..., Flask], trace_events: list[dict[str, Any]]
) -> None:
    app = make_app("svc")

    @app.route("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"first chunk\n"
            yield b"second chunk\n"
            raise Boom("the generator failed midway")

        return Response(chunks(), mimetype="text/plain")

    with serve_app(app) as url:
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(url + "/stream", timeout=5).content  # noqa: B018
        end = _wait_for_end(trace_events)

    assert end["msg_dict"]["status_code"] == 200
    assert end["msg_dict"]["error"] == {"type": "Boom", "message": "the generator failed midway"}
    assert end["msg_dict"]["response_data"] == {
        "_body": "streamed",
        "length": len(b"first chunk\nsecond chunk\n"),
    }
    assert len(events_of(trace_events, "start")) == 1


def test_a_client_that_goes_away_during_a_stream_ends_it_with_an_error(
    make_app: Callable[..., Flask], trace_events: list[dict[str, Any]]
) -> None:
    app = make_app("svc")
    client_gone = threading.Event()
    produced = []

    @app.route("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"x" * 1024
            client_gone.wait(WAIT)
            # Keep sending (bounded): a write to the closed connection fails soon.
            for _ in range(4096):
                produced.append(1)
                yield b"y" * 65536

        return Response(chunks(), mimetype="text/plain")

    with serve_app(app) as url:
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=WAIT) as sock:
            sock.sendall(b"GET /stream HTTP/1.1\r\nHost: " + parts.netloc.encode() + b"\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(4096)
                assert chunk, "the server closed before sending the headers"
                received += chunk
            assert received.startswith(b"HTTP/1.1 200")
        client_gone.set()
        end = _wait_for_end(trace_events)

    assert len(produced) < 4096, "the server kept writing to a closed connection"
    assert end["msg_dict"]["status_code"] == 200
    assert end["msg_dict"]["error"]["type"] == "ClientDisconnected"
    assert end["msg_dict"]["response_data"]["_body"] == "streamed"
    assert len(events_of(trace_events, "start")) == 1
