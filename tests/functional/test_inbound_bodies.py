"""Request and response bodies in events, and the view still reading the body it was sent."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
import requests
from flask import Flask, request

from traced_http.testing import events_of, serve_app

LIMIT = 64


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("svc", body_limit=LIMIT)

    @app.route("/echo", methods=["POST", "PUT", "PATCH"])
    def echo():
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
def test_textual_bodies_are_captured(app, events, kwargs, captured):
    app.test_client().post("/echo", **kwargs)
    assert request_data(events) == captured


def test_body_over_the_limit_is_a_truncated_marker(app, events):
    body = "z" * 1000
    app.test_client().post("/echo", data=body, content_type="text/plain")
    assert request_data(events) == {"_body": "truncated", "length": 1000, "preview": "z" * LIMIT}


def test_invalid_json_is_recorded_as_such_and_the_request_goes_on(app, events):
    response = app.test_client().post("/echo", data=b'{"a": ', content_type="application/json")
    assert response.status_code == 200
    assert request_data(events) == {"_body": "invalid_json", "length": 6, "preview": '{"a": '}


def test_non_utf8_body_is_recorded_as_such(app, events):
    response = app.test_client().post("/echo", data=b"\xff\xfe", content_type="text/plain")
    assert response.status_code == 200
    assert request_data(events) == {"_body": "not_utf8", "length": 2}


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", None])
def test_non_json_post_never_fails_as_get_json_would(app, events, content_type):
    """``request.get_json()`` raises 415 on these; the hooks must not."""
    response = app.test_client().post("/echo", data=b"plain words", content_type=content_type)
    assert response.status_code == 200
    assert [e["event_des"] for e in events] == ["start", "end"]


def test_binary_body_is_omitted(app, events):
    app.test_client().post("/echo", data=b"\x00\x01", content_type="application/octet-stream")
    assert request_data(events) == {
        "_body": "omitted",
        "content_type": "application/octet-stream",
        "length": 2,
    }


def test_multipart_upload_is_not_read_and_the_view_gets_the_file(app, events):
    response = app.test_client().post(
        "/upload", data={"doc": (io.BytesIO(b"file body"), "a.txt"), "n": "note"}
    )
    assert response.json == {"name": "a.txt", "content": "file body", "note": "note"}
    captured = request_data(events)
    assert captured["_body"] == "omitted"
    assert captured["content_type"].startswith("multipart/form-data")
    assert "file body" not in json.dumps(events_of(events, "start"))


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
def test_view_reads_the_whole_body_after_capture(app, events, size, how, kwargs, expected):
    value = "v" * size
    response = app.test_client().post(f"/read/{how}", **kwargs(value))
    assert response.json == {"got": expected(value)}
    assert request_data(events) != {}


def test_capture_bodies_off_records_no_body(make_app, events):
    app = make_app("svc", capture_bodies=False)

    @app.route("/", methods=["POST"])
    def index():
        return {"got": request.get_json()}

    response = app.test_client().post("/", json={"a": 1})
    assert response.json == {"got": {"a": 1}}
    assert request_data(events) is None
    assert response_data(events) is None


def test_response_body_is_captured(app, events):
    app.test_client().get("/reply/3")
    assert response_data(events) == {"data": "yyy"}


def test_response_body_over_the_limit_is_truncated(app, events):
    response = app.test_client().get("/reply/500")
    captured = response_data(events)
    assert captured["_body"] == "truncated"
    assert captured["length"] == len(response.data)
    assert captured["preview"] == response.text[:LIMIT]


@pytest.mark.parametrize("size", [10, 100_000], ids=["within-limit", "over-limit"])
def test_real_server_view_gets_the_exact_body(make_app, events, size):
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
