"""The recipe's own example, end to end: start and end events with the recipe's fields."""

from __future__ import annotations

from flask import g


def test_recipe_example_logs_start_and_end_with_one_id(make_app, trace_events):
    app = make_app("gateway")

    @app.route("/")
    def hello_world():
        return "Hello, World! " + g.traceid

    response = app.test_client().get("/", headers={"traceid": "a5637579351c477a80090a88f5347088"})

    assert response.headers["traceid"] == "a5637579351c477a80090a88f5347088"
    assert response.text.endswith("a5637579351c477a80090a88f5347088")
    assert [e["event_des"] for e in trace_events] == ["start", "end"]
    assert [e["trace_index"] for e in trace_events] == [1, 2]
    assert {e["traceid"] for e in trace_events} == {"a5637579351c477a80090a88f5347088"}
    start, end = trace_events
    assert start["msg_dict"]["id_source"] == "traceid"
    assert end["msg_dict"]["status_code"] == 200
    assert end["msg_dict"]["response_data"].startswith("Hello, World!")
