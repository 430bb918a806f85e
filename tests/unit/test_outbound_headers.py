"""``OutboundHeaders``: deciding and writing the trace headers of one call span."""

from __future__ import annotations

import pytest
from requests.structures import CaseInsensitiveDict

from traced_http.propagation import OutboundHeaders, w3c_trace_id

TID = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "0af7651916cd43dd8448eb211c80319c"
SPAN = "b7ad6b7169203331"


@pytest.mark.parametrize(
    ("given", "overrides"),
    [
        ({}, False),
        ({"traceid": TID}, False),
        ({"TraceId": TID}, False),
        ({"traceparent": f"00-{TID}-{SPAN}-01"}, False),
        ({"traceid": TID, "traceparent": f"00-{TID}-{SPAN}-00"}, False),
        ({"traceid": "abc-123"}, True),
        ({"TRACEID": OTHER}, True),
        ({"traceparent": f"00-{OTHER}-{SPAN}-01"}, True),
        ({"traceparent": "not-a-traceparent"}, True),
        ({"traceid": TID, "traceparent": f"00-{OTHER}-{SPAN}-01"}, True),
        ({"X-Request-ID": "abc-123"}, False),
    ],
)
def test_caller_overrides_only_with_another_trace(given, overrides):
    assert OutboundHeaders().caller_overrides(CaseInsensitiveDict(given), TID, None) is overrides


@pytest.mark.parametrize(
    ("given", "current", "overrides"),
    [
        ({"tracestate": "rojo=1"}, "rojo=1", False),
        ({"traceid": TID, "tracestate": "rojo=1"}, "rojo=1", False),
        ({"tracestate": "rojo=1"}, None, True),
        ({"tracestate": "mine=1"}, "rojo=1", True),
        ({"traceid": TID, "tracestate": "mine=1"}, "rojo=1", True),
        ({"traceparent": f"00-{TID}-{SPAN}-01", "tracestate": "mine=1"}, "rojo=1", True),
        ({"TraceState": b"mine=1"}, "rojo=1", True),
    ],
)
def test_an_explicit_tracestate_other_than_the_traces_is_an_override(given, current, overrides):
    result = OutboundHeaders().caller_overrides(CaseInsensitiveDict(given), TID, current)
    assert result is overrides


def test_configured_plain_names_count_as_overrides():
    names = OutboundHeaders(["traceparent", "X-Request-ID"])

    assert names.caller_overrides(CaseInsensitiveDict({"x-request-id": "other"}), TID, None)
    assert not names.caller_overrides(CaseInsensitiveDict({"x-request-id": TID}), TID, None)


def test_inject_writes_traceid_traceparent_and_tracestate():
    out = CaseInsensitiveDict({"Accept": "*/*"})

    OutboundHeaders().inject(out, TID, SPAN, "03", "rojo=1")

    assert dict(out) == {
        "Accept": "*/*",
        "traceid": TID,
        "traceparent": f"00-{TID}-{SPAN}-03",
        "tracestate": "rojo=1",
    }


def test_inject_replaces_values_copied_from_an_earlier_hop():
    out = CaseInsensitiveDict(
        {"TraceParent": f"00-{TID}-aaaaaaaaaaaaaaaa-01", "tracestate": "old=1", "traceid": TID}
    )

    OutboundHeaders().inject(out, TID, SPAN, "01", None)

    assert out["traceparent"] == f"00-{TID}-{SPAN}-01"
    assert "tracestate" not in out
    assert len(out) == 2


@pytest.mark.parametrize(
    ("trace_id", "w3c_id"),
    [
        ("req-391", w3c_trace_id("req-391")),
        ("3CE6BD8A-338C-4C3D-82FC-158DB314277B", "3ce6bd8a338c4c3d82fc158db314277b"),
        (TID.upper(), TID),
        ("0" * 32, "0" * 31 + "1"),
    ],
)
def test_a_plain_id_travels_as_traceid_with_a_derived_traceparent(trace_id, w3c_id):
    out = CaseInsensitiveDict({"traceparent": f"00-{TID}-{SPAN}-01", "tracestate": "a=1"})

    OutboundHeaders().inject(out, trace_id, SPAN, "01", "rojo=1")

    assert dict(out) == {
        "traceid": trace_id,
        "traceparent": f"00-{w3c_id}-{SPAN}-01",
        "tracestate": "rojo=1",
    }


def test_a_copied_traceparent_of_the_same_plain_trace_is_no_override():
    headers = CaseInsensitiveDict(
        {"traceid": "req-391", "traceparent": f"00-{w3c_trace_id('req-391')}-{SPAN}-01"}
    )

    assert not OutboundHeaders().caller_overrides(headers, "req-391", None)


def test_without_traceparent_in_the_style_no_traceparent_is_written():
    out = CaseInsensitiveDict()

    OutboundHeaders(["X-Request-ID"]).inject(out, TID, SPAN, "01", "rojo=1")

    assert dict(out) == {"X-Request-ID": TID}


def test_strip_removes_every_trace_header_of_the_style_whatever_the_case():
    out = CaseInsensitiveDict(
        {
            "TRACEID": "x",
            "Traceparent": "y",
            "tracestate": "z",
            "x-request-id": "w",
            "Accept": "*/*",
        }
    )

    OutboundHeaders(["traceparent", "traceid", "X-Request-ID"]).strip(out)

    assert dict(out) == {"Accept": "*/*"}
