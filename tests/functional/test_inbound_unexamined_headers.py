"""Values the hooks did not use are still never logged raw when they are invalid."""

from __future__ import annotations

import json

import pytest

VALID_PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
BAD = "bad id\twith spaces-PLANTED"


@pytest.mark.parametrize(
    ("headers", "logged_name"),
    [
        ({"traceparent": VALID_PARENT, "traceid": BAD}, "Traceid"),
        ({"traceparent": VALID_PARENT, "X-Request-ID": BAD}, "X-Request-Id"),
        ({"traceid": "good-id", "X-Correlation-ID": BAD}, "X-Correlation-Id"),
    ],
)
def test_an_invalid_lower_priority_trace_header_is_not_logged(
    make_app, trace_events, headers, logged_name
):
    app = make_app()
    app.route("/")(lambda: "ok")

    app.test_client().get("/", headers=headers)

    start = trace_events[0]
    assert start["msg_dict"]["headers"][logged_name] == "[REJECTED]"
    assert all("PLANTED" not in json.dumps(event) for event in trace_events)


def test_a_valid_lower_priority_trace_header_is_logged_as_sent(make_app, trace_events):
    app = make_app()
    app.route("/")(lambda: "ok")

    app.test_client().get("/", headers={"traceparent": VALID_PARENT, "X-Request-ID": "req-42"})

    assert trace_events[0]["msg_dict"]["headers"]["X-Request-Id"] == "req-42"
    assert trace_events[0]["msg_dict"]["id_source"] == "traceparent"


def test_custom_id_headers_are_checked_too(make_app, trace_events):
    app = make_app(id_headers=["X-Trace", "X-Other-Trace"])
    app.route("/")(lambda: "ok")

    app.test_client().get("/", headers={"X-Trace": "good", "X-Other-Trace": BAD})

    assert trace_events[0]["msg_dict"]["headers"]["X-Other-Trace"] == "[REJECTED]"


def test_an_error_page_body_is_described_not_read(make_app, trace_events):
    app = make_app()

    app.test_client().get("/missing")

    end = trace_events[-1]["msg_dict"]
    assert end["status_code"] == 404
    assert end["response_data"]["_body"] == "omitted"
    assert end["response_data"]["content_type"].startswith("text/html")
    assert end["response_data"]["length"] > 0


def test_an_exception_message_in_the_end_event_is_redacted(make_app, trace_events):
    app = make_app()

    @app.route("/")
    def view():
        raise RuntimeError("failed calling http://x/y?access_token=PLANTED-SECRET")

    app.test_client().get("/")

    error = trace_events[-1]["msg_dict"]["error"]
    assert error["type"] == "RuntimeError"
    assert "PLANTED-SECRET" not in error["message"]
    assert "[REDACTED]" in error["message"]
