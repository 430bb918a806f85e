"""The start and end events of a request: their fields, and an end for every request."""

from __future__ import annotations

import time

import pytest
from flask import Flask, Response, abort, request, stream_with_context

import traced_http as traced
from traced_http.schema import FIELDS
from traced_http.testing import events_of


@pytest.fixture
def app(make_app) -> Flask:
    app = make_app("orders")
    app.config["MAX_CONTENT_LENGTH"] = 64

    @app.route("/items/<int:item>", methods=["GET", "POST"])
    def item(item):
        return {"item": item}

    @app.route("/missing")
    def missing():
        abort(404)

    @app.route("/boom")
    def boom():
        raise ValueError("the view failed")

    @app.route("/upload", methods=["POST"])
    def upload():
        return {"size": len(request.get_data())}

    @app.route("/steps")
    def steps():
        traced.add_event("step", {"n": 1})
        traced.add_event("step", {"n": 2})
        return "done"

    return app


def test_start_event_has_the_recipe_fields_and_more(app, trace_events):
    before = time.time()
    app.test_client().get(
        "/items/7?q=shoes&page=2",
        headers={"X-Real-IP": "203.0.113.9", "Accept": "application/json"},
        environ_base={"REMOTE_ADDR": "192.0.2.1"},
    )
    start = events_of(trace_events, "start")[0]
    msg = start["msg_dict"]
    assert tuple(start) == FIELDS
    assert start["service"] == "orders"
    assert start["trace_index"] == 1
    assert msg["method"] == "GET"
    assert msg["url"] == "http://localhost/items/7?q=shoes&page=2"
    assert msg["path"] == "/items/7"
    assert msg["route"] == "/items/<int:item>"
    assert msg["headers"]["Accept"] == "application/json"
    assert msg["request_data"] == {"q": "shoes", "page": "2"}
    assert msg["ip"] == "203.0.113.9"
    assert msg["remote_addr"] == "192.0.2.1"
    assert before <= msg["start_time"] <= time.time()
    assert msg["id_source"] == "generated"


def test_ip_is_the_peer_address_without_x_real_ip(app, trace_events):
    app.test_client().get("/items/1", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    msg = events_of(trace_events, "start")[0]["msg_dict"]
    assert msg["ip"] == msg["remote_addr"] == "192.0.2.1"


def test_get_without_query_has_empty_request_data(app, trace_events):
    app.test_client().get("/items/1")
    assert events_of(trace_events, "start")[0]["msg_dict"]["request_data"] == {}


def test_end_event_has_timing_status_headers_and_body(app, trace_events):
    response = app.test_client().get("/items/7")
    start, end = trace_events
    msg = end["msg_dict"]
    assert end["event_des"] == "end"
    assert (end["traceid"], end["span_id"], end["parent_id"]) == (
        start["traceid"],
        start["span_id"],
        start["parent_id"],
    )
    assert end["trace_index"] == 2
    assert msg["end_time"] >= start["msg_dict"]["start_time"]
    assert msg["cost_time"] == pytest.approx(msg["end_time"] - start["msg_dict"]["start_time"])
    assert msg["status_code"] == 200
    assert msg["headers"]["Content-Type"] == "application/json"
    assert msg["headers"]["traceid"] == response.headers["traceid"]
    assert msg["response_data"] == {"item": 7}
    assert "error" not in msg


def test_user_events_sit_between_start_and_end_in_the_same_span(app, trace_events):
    app.test_client().get("/steps")
    assert [e["event_des"] for e in trace_events] == ["start", "step", "step", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3, 4]
    assert len({e["span_id"] for e in trace_events}) == 1
    assert len({e["traceid"] for e in trace_events}) == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "error_type"),
    [
        pytest.param("GET", "/items/1", {}, 200, None, id="ok"),
        pytest.param("GET", "/missing", {}, 404, None, id="abort-404"),
        pytest.param("GET", "/no/such/route", {}, 404, None, id="unmatched-404"),
        pytest.param("GET", "/boom", {}, 500, "ValueError", id="view-raised-500"),
        pytest.param("DELETE", "/items/1", {}, 405, None, id="method-not-allowed-405"),
        pytest.param(
            "POST",
            "/upload",
            {"data": b"x" * 100, "content_type": "text/plain"},
            413,
            None,
            id="too-large-413",
        ),
    ],
)
def test_every_request_gets_exactly_one_start_and_one_end(
    app, trace_events, method, path, kwargs, status, error_type
):
    response = app.test_client().open(path, method=method, **kwargs)
    assert response.status_code == status
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    end = trace_events[1]
    assert end["msg_dict"]["status_code"] == status
    assert end["traceid"] == response.headers["traceid"]
    if error_type is None:
        assert "error" not in end["msg_dict"]
    else:
        assert end["msg_dict"]["error"]["type"] == error_type


def test_unhandled_exception_end_carries_type_and_message(app, trace_events):
    app.test_client().get("/boom")
    assert trace_events[-1]["msg_dict"]["error"] == {
        "type": "ValueError",
        "message": "the view failed",
    }


def test_propagated_exception_still_writes_the_end(app, trace_events):
    """With TESTING on, Flask re-raises the view's error: the end is written all the same."""
    app.testing = True
    with pytest.raises(ValueError):
        app.test_client().get("/boom")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    assert trace_events[1]["msg_dict"]["error"]["type"] == "ValueError"


# --- streamed responses ------------------------------------------------------------------


@pytest.fixture
def streaming_app(make_app):
    app = make_app("streamer")
    produced: list[str] = []

    @app.route("/stream")
    def stream():
        def body():
            for chunk in ("one,", "two,", "three"):
                produced.append(chunk)
                yield chunk

        return Response(body(), mimetype="text/plain")

    @app.route("/broken")
    def broken():
        def body():
            yield "first,"
            raise RuntimeError("the stream broke")

        return Response(body(), mimetype="text/plain")

    @app.route("/logs/<wrap>")
    def logs(wrap):
        def body():
            traced.add_event("chunk", {"n": 1})
            yield "a"

        return Response(stream_with_context(body()) if wrap == "with-context" else body())

    app.produced = produced
    return app


def test_streamed_response_is_not_consumed_and_ends_when_closed(streaming_app, trace_events):
    with streaming_app.test_client().get("/stream") as response:
        # Werkzeug's test client pulls the first chunk itself; the hooks read nothing.
        assert len(streaming_app.produced) < 3, "the hooks must not read the stream"
        assert [e["event_des"] for e in trace_events] == ["start"]
        assert response.headers["traceid"] == trace_events[0]["traceid"]
        assert response.get_data() == b"one,two,three"
    end = events_of(trace_events, "end")
    assert len(end) == 1
    assert end[0]["msg_dict"]["status_code"] == 200
    assert end[0]["msg_dict"]["response_data"] == {"_body": "streamed", "length": 13}
    assert "error" not in end[0]["msg_dict"]
    assert end[0]["span_id"] == trace_events[0]["span_id"]


def test_stream_closed_before_its_end_is_reported_as_client_gone(streaming_app, trace_events):
    with streaming_app.test_client().get("/stream"):
        pass
    (end,) = events_of(trace_events, "end")
    assert end["msg_dict"]["error"]["type"] == "ClientDisconnected"


def test_stream_whose_generator_raises_midway_ends_with_the_error(streaming_app, trace_events):
    with pytest.raises(RuntimeError), streaming_app.test_client().get("/broken") as response:
        response.get_data()
    (end,) = events_of(trace_events, "end")
    assert end["msg_dict"]["error"] == {"type": "RuntimeError", "message": "the stream broke"}
    assert end["msg_dict"]["response_data"] == {"_body": "streamed", "length": 6}


@pytest.mark.parametrize("wrap", ["with-context", "plain-generator"])
def test_code_in_a_streamed_body_logs_with_the_request_trace(streaming_app, trace_events, wrap):
    with streaming_app.test_client().get(f"/logs/{wrap}") as response:
        response.get_data()
    assert [e["event_des"] for e in trace_events] == ["start", "chunk", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2, 3]
    assert len({(e["traceid"], e["span_id"]) for e in trace_events}) == 1
    assert traced.current_trace() is None


def test_a_streamed_204_is_not_a_disconnect(make_app, trace_events):
    app = make_app()

    @app.get("/")
    def empty():
        return Response((chunk for chunk in ()), status=204)

    with app.test_client().get("/") as response:
        assert response.status_code == 204

    assert "error" not in events_of(trace_events, "end")[0]["msg_dict"]
