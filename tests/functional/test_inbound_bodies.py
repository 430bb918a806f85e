"""Request and response bodies in events, and the view still reading the body it was sent.

The hooks never read a request body: a textual one is recorded as the application reads
it and described in the ``end`` event (the ``start`` event says ``deferred``).
"""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import requests
from flask import Flask, Response, redirect, request, stream_with_context

from traced_http.testing import events_of, serve_app

LIMIT = 64


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/echo", methods=["POST", "PUT", "PATCH"])
    def echo():
        request.get_data()
        return "ok"

    @app.route("/ignore", methods=["POST"])
    def ignore():
        return "ok"

    @app.route("/read/<how>", methods=["POST"])
    def read(how):
        if how == "json":
            return {"got": request.get_json()}
        if how == "form":
            return {"got": request.form.to_dict()}
        if how == "stream":
            return {"got": request.stream.read().decode()}
        return {"got": request.get_data(as_text=True)}

    @app.route("/upload", methods=["POST"])
    def upload():
        file = request.files["doc"]
        return {"name": file.filename, "content": file.read().decode(), "note": request.form["n"]}

    @app.route("/reply/<int:size>")
    def reply(size):
        return {"data": "y" * size}

    return app


def request_data(events):
    """The request body as the end event describes it."""
    return events_of(events, "end")[0]["msg_dict"]["request_data"]


def start_request_data(events):
    return events_of(events, "start")[0]["msg_dict"]["request_data"]


def response_data(events):
    return events_of(events, "end")[0]["msg_dict"]["response_data"]


@pytest.mark.parametrize(
    ("kwargs", "captured"),
    [
        pytest.param({"json": {"a": [1, 2], "b": None}}, {"a": [1, 2], "b": None}, id="json"),
        pytest.param({"data": {"a": "1", "b": "2"}}, {"a": "1", "b": "2"}, id="form"),
        pytest.param({"data": "héllo", "content_type": "text/plain"}, "héllo", id="text"),
    ],
)
def test_textual_bodies_are_captured(app, trace_events, kwargs, captured):
    response = app.test_client().post("/echo", **kwargs)
    assert response.status_code == 200
    assert request_data(trace_events) == captured
    assert start_request_data(trace_events) == {
        "_body": "deferred",
        "length": response.request.content_length,
    }


def test_body_over_the_limit_is_a_truncated_marker(app, trace_events):
    body = "z" * 1000
    app.test_client().post("/echo", data=body, content_type="text/plain")
    assert request_data(trace_events) == {
        "_body": "truncated",
        "length": 1000,
        "preview": "z" * LIMIT,
    }


def test_invalid_json_is_recorded_as_such_and_the_request_goes_on(app, trace_events):
    response = app.test_client().post("/echo", data=b'{"a": ', content_type="application/json")
    assert response.status_code == 200
    assert request_data(trace_events) == {"_body": "invalid_json", "length": 6, "preview": '{"a": '}


def test_non_utf8_body_is_recorded_as_such(app, trace_events):
    response = app.test_client().post("/echo", data=b"\xff\xfe", content_type="text/plain")
    assert response.status_code == 200
    assert request_data(trace_events) == {"_body": "not_utf8", "length": 2}


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_non_json_post_never_fails_as_get_json_would(app, trace_events, content_type):
    """``request.get_json()`` raises 415 on these; the hooks must not."""
    response = app.test_client().post("/echo", data=b"plain words", content_type=content_type)
    assert response.status_code == 200
    assert [e["event_des"] for e in trace_events] == ["start", "end"]


def test_binary_body_is_omitted(app, trace_events):
    app.test_client().post("/echo", data=b"\x00\x01", content_type="application/octet-stream")
    assert start_request_data(trace_events) == {
        "_body": "omitted",
        "content_type": "application/octet-stream",
        "length": 2,
    }


def test_multipart_upload_is_not_read_and_the_view_gets_the_file(app, trace_events):
    response = app.test_client().post(
        "/upload", data={"doc": (io.BytesIO(b"file body"), "a.txt"), "n": "note"}
    )
    assert response.json == {"name": "a.txt", "content": "file body", "note": "note"}
    captured = start_request_data(trace_events)
    assert captured["_body"] == "omitted"
    assert captured["content_type"].startswith("multipart/form-data")
    assert "file body" not in json.dumps(events_of(trace_events, "start"))


@pytest.mark.parametrize("size", [10, 1000], ids=["within-limit", "over-limit"])
@pytest.mark.parametrize(
    ("how", "kwargs", "expected"),
    [
        ("json", lambda v: {"json": {"v": v}}, lambda v: {"v": v}),
        ("form", lambda v: {"data": {"v": v}}, lambda v: {"v": v}),
        ("stream", lambda v: {"data": v, "content_type": "text/plain"}, lambda v: v),
        ("data", lambda v: {"data": v, "content_type": "text/plain"}, lambda v: v),
    ],
)
def test_view_reads_the_whole_body_after_capture(app, trace_events, size, how, kwargs, expected):
    value = "v" * size
    response = app.test_client().post(f"/read/{how}", **kwargs(value))
    assert response.json == {"got": expected(value)}
    assert request_data(trace_events) != {}


def test_capture_bodies_off_records_no_body(make_app, trace_events):
    app = make_app("svc", capture_bodies=False)

    @app.route("/", methods=["POST"])
    def index():
        return {"got": request.get_json()}

    response = app.test_client().post("/", json={"a": 1})
    assert response.json == {"got": {"a": 1}}
    assert start_request_data(trace_events) is None
    assert response_data(trace_events) is None


def test_response_body_is_captured(app, trace_events):
    app.test_client().get("/reply/3")
    assert response_data(trace_events) == {"data": "yyy"}


def test_response_body_over_the_limit_is_truncated(app, trace_events):
    response = app.test_client().get("/reply/500")
    captured = response_data(trace_events)
    assert captured["_body"] == "truncated"
    assert captured["length"] == len(response.data)
    assert captured["preview"] == response.text[:LIMIT]


@pytest.mark.parametrize("size", [10, 100_000], ids=["within-limit", "over-limit"])
def test_real_server_view_gets_the_exact_body(make_app, trace_events, size):
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/hash", methods=["POST"])
    def hash_body():
        return hashlib.sha256(request.get_data()).hexdigest()

    body = bytes(range(32, 127)) * (size // 95 + 1)
    with serve_app(app) as base:
        response = requests.post(
            f"{base}/hash", data=body, headers={"Content-Type": "text/plain"}, timeout=10
        )
    assert response.text == hashlib.sha256(body).hexdigest()


def test_a_body_the_view_does_not_read_is_not_read_by_the_hooks(app, trace_events):
    body = CountingInput(b'{"a": 1}')
    response = app.test_client().post(
        "/ignore", input_stream=body, content_type="application/json", content_length=8
    )
    assert response.status_code == 200
    assert body.read_bytes == 0
    assert request_data(trace_events) == {"_body": "not_read", "length": 8}


def test_a_body_the_view_reads_in_part_is_previewed_as_far_as_it_was_read(make_app, trace_events):
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/first", methods=["POST"])
    def first():
        return request.stream.read(5)

    response = app.test_client().post("/first", data="abcdefghij", content_type="text/plain")
    assert response.text == "abcde"
    assert request_data(trace_events) == {"_body": "truncated", "length": 10, "preview": "abcde"}


def test_a_body_read_line_by_line_from_the_raw_input_is_captured(make_app, trace_events):
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/lines", methods=["POST"])
    def lines():
        return {"lines": [line.decode() for line in request.input_stream]}

    response = app.test_client().post("/lines", data="a=1\nb=2\n", content_type="text/plain")
    assert response.json == {"lines": ["a=1\n", "b=2\n"]}
    assert request_data(trace_events) == "a=1\nb=2\n"


LOWERED = 1024


@pytest.mark.parametrize("where", ["app-config", "before_request", "view"])
@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"json": {"v": "x" * 5000}}, id="json"),
        pytest.param({"data": {"v": "x" * 5000}}, id="form"),
    ],
)
def test_a_limit_lowered_for_one_request_still_gets_flasks_413(
    make_app, trace_events, where, kwargs
):
    """``MAX_CONTENT_LENGTH``, or (Flask 3.1) ``request.max_content_length`` set for one
    request by a before_request function or the view: the hooks never read the body."""
    app = make_app("svc")
    if where == "app-config":
        app.config["MAX_CONTENT_LENGTH"] = LOWERED

    @app.before_request
    def lower():
        if where == "before_request":
            request.max_content_length = LOWERED

    @app.route("/small", methods=["POST"])
    def small():
        if where == "view":
            request.max_content_length = LOWERED
        return {"json": request.get_json()} if request.is_json else request.form.to_dict()

    response = app.test_client().post("/small", **kwargs)

    assert response.status_code == 413
    assert events_of(trace_events, "end")[0]["msg_dict"]["status_code"] == 413
    assert request_data(trace_events)["_body"] == "not_read"


@pytest.mark.parametrize("size", [10, 5000], ids=["within-limit", "over-limit"])
@pytest.mark.parametrize("source", ["input_stream", "wsgi.input"])
def test_real_server_view_reading_the_raw_input_gets_the_whole_body(
    make_app, trace_events, size, source
):
    """Raw-body proxies and webhook signature checks read the WSGI input themselves."""
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/webhook", methods=["POST"])
    def webhook():
        stream = request.input_stream if source == "input_stream" else request.environ["wsgi.input"]
        return hashlib.sha256(stream.read(request.content_length)).hexdigest()

    body = json.dumps({"v": "w" * size}).encode()
    with serve_app(app) as base:
        response = requests.post(
            f"{base}/webhook", data=body, headers={"Content-Type": "application/json"}, timeout=5
        )
    assert response.text == hashlib.sha256(body).hexdigest()
    captured = request_data(trace_events)
    if len(body) <= LIMIT:
        assert captured == {"v": "w" * size}
    else:
        assert captured["_body"] == "truncated"
        assert captured["preview"] == body[:LIMIT].decode()


@pytest.mark.parametrize("status", [307, 308])
def test_test_client_following_a_redirect_resends_the_whole_body(make_app, trace_events, status):
    app = make_app("svc")

    @app.route("/old", methods=["POST"])
    def old():
        return redirect("/new", code=status)

    @app.route("/items/", methods=["POST"])
    @app.route("/new", methods=["POST"])
    def new():
        return {"got": request.get_json()}

    payload = {"item": "book", "qty": 2}
    moved = app.test_client().post("/old", json=payload, follow_redirects=True)
    slash = app.test_client().post("/items", json=payload, follow_redirects=True)

    assert moved.json == slash.json == {"got": payload}
    assert [e["msg_dict"]["status_code"] for e in events_of(trace_events, "end")] == [
        status,
        200,
        308,
        200,
    ]


class CountingInput(io.BytesIO):
    """A request body that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size=-1):
        data = super().read(size)
        self.read_bytes += len(data)
        return data

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.read_bytes += count
        return count


def test_a_streamed_response_describes_the_body_read_while_streaming(make_app, trace_events):
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/stream", methods=["POST"])
    def stream():
        @stream_with_context
        def generate():
            yield "got "
            yield request.get_data(as_text=True)

        return Response(generate(), mimetype="text/plain")

    client = app.test_client()
    with client.post("/stream", data="streamed body", content_type="text/plain") as response:
        assert response.text == "got streamed body"
    end = events_of(trace_events, "end")[0]["msg_dict"]
    assert end["response_data"]["_body"] == "streamed"
    assert end["request_data"] == "streamed body"


def test_a_streamed_length_counts_bytes_on_the_wire(make_app, trace_events):
    app = make_app()

    @app.get("/")
    def text():
        return Response((chunk for chunk in ("héllo ", "wörld")), mimetype="text/plain")

    with app.test_client().get("/") as response:
        wire = response.get_data()

    assert events_of(trace_events, "end")[0]["msg_dict"]["response_data"]["length"] == len(wire)
