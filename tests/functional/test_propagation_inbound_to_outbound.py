"""What an inbound request's trace headers become on the calls its view makes."""

from __future__ import annotations

import pytest
import responses

import traced_http as traced

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
DOWNSTREAM = "http://downstream.test/"


@pytest.fixture
def app(make_app):
    app = make_app("gateway")

    @app.route("/")
    def index():
        return {"status": traced.get(DOWNSTREAM, timeout=5).status_code}

    return app


@pytest.fixture
def sent(traced_responses):
    """The headers of each call that reached the (mocked) downstream service."""
    seen: list[dict[str, str]] = []

    def record(request):
        seen.append(dict(request.headers))
        return 200, {}, "ok"

    traced_responses.add_callback(responses.GET, DOWNSTREAM, callback=record)
    yield seen
    assert seen, "the view never called downstream"


# Which flags are kept is unit-tested with parse_traceparent; here, that they travel on.
@pytest.mark.parametrize(("flags", "sent_flags"), [("00", "00"), ("0b", "03")])
def test_incoming_flags_travel_on_with_only_sampled_and_random_bits(app, sent, flags, sent_flags):
    app.test_client().get("/", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-{flags}"})
    (headers,) = sent
    version, trace_id, span_id, out_flags = headers["traceparent"].split("-")
    assert (version, trace_id, out_flags) == ("00", TRACE_ID, sent_flags)
    assert span_id != PARENT_ID


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(
            {"traceparent": f"ff-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "a=1"},
            id="invalid-traceparent",
        ),
        pytest.param(
            {"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01", "tracestate": "a=1"},
            id="zero-parent-traceparent",
        ),
        pytest.param(
            {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "tracestate": "a=b=c"},
            id="invalid-tracestate",
        ),
        pytest.param({"traceid": "plain-id", "tracestate": "a=1"}, id="no-traceparent"),
        pytest.param(
            {
                "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
                "tracestate": ",".join(f"k{i}=v" for i in range(33)),
            },
            id="33-members",
        ),
    ],
)
def test_tracestate_is_never_sent_when_it_was_not_kept(app, sent, headers):
    app.test_client().get("/", headers=headers)
    assert "tracestate" not in sent[0]
    assert "traceparent" in sent[0]


def test_invalid_inbound_id_is_not_sent_on(app, sent):
    response = app.test_client().get("/", headers={"traceid": "EVIL,joined"})
    (headers,) = sent
    assert headers["traceid"] == response.headers["traceid"]
    assert "EVIL" not in str(headers)
