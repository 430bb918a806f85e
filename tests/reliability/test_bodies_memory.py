"""Big bodies cost the hooks no more memory than the capture size plus a little.

Measured with ``tracemalloc`` around one request through the test client, traced app
against an untraced app with the same view: the extra peak is what the hooks cost. The
upload is produced lazily, so neither the client nor the view ever holds all of it.
"""

from __future__ import annotations

import io
import tracemalloc
from typing import Any, Callable

import pytest
from flask import Flask, request

from flask_hooks import Tracing
from traced_http.bodies import DEFAULT_BODY_LIMIT

SIZE = 50 * 1024 * 1024
SLACK = 256 * 1024
CHUNK = 64 * 1024


class LazyBody(io.RawIOBase):
    """``head`` + filler + ``tail``, ``size`` bytes in all, made as it is read."""

    def __init__(self, size: int, head: bytes, tail: bytes, filler: bytes = b"a") -> None:
        self.size = size
        self.head = head
        self.tail = tail
        self.filler = filler
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures the body with seek() and tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = self.size + offset if whence == io.SEEK_END else offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        count = min(len(buffer), self.size - self.pos)
        if count <= 0:
            return 0
        view = memoryview(buffer)
        tail_start = self.size - len(self.tail)
        written = 0
        while written < count:
            at = self.pos + written
            if at < len(self.head):
                part = self.head[at : at + count - written]
            elif at >= tail_start:
                part = self.tail[at - tail_start : at - tail_start + count - written]
            else:
                part = self.filler * min(count - written, tail_start - at)
            view[written : written + len(part)] = part
            written += len(part)
        self.pos += count
        return count


def _apps(route: Callable[[Flask], None]) -> tuple[Flask, Flask]:
    """The same view on an untraced and on a traced app."""
    plain = Flask("plain")
    traced_app = Flask("traced")
    Tracing(traced_app)
    for app in (plain, traced_app):
        route(app)
    return plain, traced_app


def _peak(action: Callable[[], None]) -> int:
    action()  # warm up: first-request caches are not the hooks' cost
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        action()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _upload_route(app: Flask) -> None:
    @app.route("/upload", methods=["POST"])
    def upload() -> Any:
        total = 0
        stream = request.stream
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            total += len(chunk)
        return {"received": total}


def test_a_50mb_json_upload_costs_the_hooks_no_more_than_the_capture_size(
    trace_events: list[dict[str, Any]],
) -> None:
    plain, traced_app = _apps(_upload_route)
    results: dict[str, Any] = {}

    def post(app: Flask) -> Callable[[], None]:
        def action() -> None:
            body = LazyBody(SIZE, b'{"data": "', b'"}')
            response = app.test_client().post(
                "/upload", input_stream=body, content_type="application/json", content_length=SIZE
            )
            results[app.name] = response.get_json()
            response.close()

        return action

    extra = _peak(post(traced_app)) - _peak(post(plain))

    assert results == {"plain": {"received": SIZE}, "traced": {"received": SIZE}}
    assert extra < DEFAULT_BODY_LIMIT + SLACK, f"the hooks cost {extra} bytes"
    end = next(e for e in trace_events if e["event_des"] == "end")
    assert end["msg_dict"]["request_data"]["_body"] == "truncated"
    assert end["msg_dict"]["request_data"]["length"] == SIZE


BIG = b'{"data": "' + b"a" * (SIZE - 12) + b'"}'


def _download_route(app: Flask) -> None:
    @app.route("/download")
    def download() -> Any:
        return BIG, 200, {"Content-Type": "application/json"}


def test_a_50mb_response_costs_the_hooks_no_more_than_the_capture_size(
    trace_events: list[dict[str, Any]],
) -> None:
    plain, traced_app = _apps(_download_route)
    sizes: dict[str, int] = {}

    def get(app: Flask) -> Callable[[], None]:
        def action() -> None:
            response = app.test_client().get("/download")
            sizes[app.name] = int(response.headers["Content-Length"])
            response.close()

        return action

    extra = _peak(get(traced_app)) - _peak(get(plain))

    assert sizes == {"plain": SIZE, "traced": SIZE}
    assert extra < DEFAULT_BODY_LIMIT + SLACK, f"the hooks cost {extra} bytes"
    end = next(e for e in trace_events if e["event_des"] == "end")
    assert end["msg_dict"]["response_data"]["_body"] == "truncated"
    assert end["msg_dict"]["response_data"]["length"] == SIZE


class CountingBody(LazyBody):
    """A lazy body that counts the bytes read from it."""

    read_bytes = 0

    def readinto(self, buffer: Any) -> int:
        count = super().readinto(buffer)
        self.read_bytes += count
        return count


MULTIPART_HEAD = (
    b"--BOUNDARY\r\n"
    b'Content-Disposition: form-data; name="file"; filename="big.json"\r\n'
    b"Content-Type: application/json\r\n\r\n"
)
MULTIPART_TAIL = b"\r\n--BOUNDARY--\r\n"


@pytest.mark.parametrize("view_reads", [False, True])
def test_a_multipart_upload_is_never_read_by_the_hooks(
    view_reads: bool, make_app: Callable[..., Flask], trace_events: list[dict[str, Any]]
) -> None:
    app = make_app("svc")
    seen: dict[str, Any] = {}

    @app.route("/upload", methods=["POST"])
    def upload() -> Any:
        seen["read_before_view"] = body.read_bytes
        if view_reads:
            file = request.files["file"]
            data = file.read()
            seen["file"] = (len(data), data[:10], data[-2:])
        return "ok"

    size = 5 * 1024 * 1024
    body = CountingBody(size, MULTIPART_HEAD + b'{"data": "', b'"}' + MULTIPART_TAIL)
    response = app.test_client().post(
        "/upload",
        input_stream=body,
        content_type="multipart/form-data; boundary=BOUNDARY",
        content_length=size,
    )

    assert response.status_code == 200
    assert seen["read_before_view"] == 0
    if view_reads:
        file_size = size - len(MULTIPART_HEAD) - len(MULTIPART_TAIL)
        assert seen["file"] == (file_size, b'{"data": "', b'"}')
    else:
        assert body.read_bytes == 0
    start = next(e for e in trace_events if e["event_des"] == "start")
    assert start["msg_dict"]["request_data"] == {
        "_body": "omitted",
        "content_type": "multipart/form-data; boundary=BOUNDARY",
        "length": size,
    }
