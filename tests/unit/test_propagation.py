"""Reading trace headers: W3C ``traceparent``/``tracestate`` and plain ids, never raising."""

from __future__ import annotations

import hashlib

import pytest

from traced_http.propagation import (
    DEFAULT_ID_HEADERS,
    InboundHeaders,
    parse_traceparent,
    parse_tracestate,
    valid_plain_id,
    w3c_trace_id,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


# --- traceparent -------------------------------------------------------------------------


def test_valid_traceparent_gives_trace_parent_and_flags():
    assert parse_traceparent(TRACEPARENT) == (TRACE_ID, PARENT_ID, "01")


@pytest.mark.parametrize(
    ("flags", "kept"),
    [("00", "00"), ("01", "01"), ("02", "02"), ("03", "03"), ("ff", "03"), ("fc", "00")],
)
def test_only_sampled_and_random_flags_are_kept(flags, kept):
    assert parse_traceparent(f"00-{TRACE_ID}-{PARENT_ID}-{flags}") == (TRACE_ID, PARENT_ID, kept)


@pytest.mark.parametrize("padding", [" ", "\t", " \t "])
def test_traceparent_surrounded_by_spaces_or_tabs_is_accepted(padding):
    assert parse_traceparent(padding + TRACEPARENT + padding) == (TRACE_ID, PARENT_ID, "01")


def test_higher_version_is_read_from_its_first_55_characters():
    assert parse_traceparent(f"01-{TRACE_ID}-{PARENT_ID}-01-extra") == (
        TRACE_ID,
        PARENT_ID,
        "01",
    )
    assert parse_traceparent(f"cc-{TRACE_ID}-{PARENT_ID}-01") == (TRACE_ID, PARENT_ID, "01")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(TRACEPARENT + "-extra", id="version-00-longer-than-55"),
        pytest.param(TRACEPARENT[:-1], id="version-00-shorter-than-55"),
        pytest.param(f"ff-{TRACE_ID}-{PARENT_ID}-01", id="version-ff"),
        pytest.param(f"01-{TRACE_ID}-{PARENT_ID}-01x", id="higher-version-no-dash-at-55"),
        pytest.param(f"00-{TRACE_ID.upper()}-{PARENT_ID}-01", id="uppercase-trace-id"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID.upper()}-01", id="uppercase-parent-id"),
        pytest.param(f"0A-{TRACE_ID}-{PARENT_ID}-01", id="uppercase-version"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-0A", id="uppercase-flags"),
        pytest.param(f"00-{'0' * 32}-{PARENT_ID}-01", id="all-zero-trace-id"),
        pytest.param(f"00-{TRACE_ID}-{'0' * 16}-01", id="all-zero-parent-id"),
        pytest.param(f"{TRACEPARENT},{TRACEPARENT}", id="two-joined-values"),
        pytest.param(f"{TRACEPARENT}, {TRACEPARENT}", id="two-joined-values-with-space"),
        pytest.param(f"00_{TRACE_ID}_{PARENT_ID}_01", id="wrong-separator"),
        pytest.param(f"00-{TRACE_ID[:-1]}g-{PARENT_ID}-01", id="non-hex"),
        pytest.param("", id="empty"),
        pytest.param("00-abc-def-01", id="short-ids"),
        pytest.param("x" * 10_240, id="10-KB"),
        pytest.param(f"00-{TRACE_ID}-{PARENT_ID}-01\r\n", id="crlf"),
        pytest.param(f"00-{TRACE_ID}é-{PARENT_ID}-01", id="non-ascii"),
    ],
)
def test_invalid_traceparent_is_none(value):
    assert parse_traceparent(value) is None


# --- tracestate --------------------------------------------------------------------------


def test_valid_tracestate_is_kept():
    assert parse_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7") == (
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    )


def test_tracestate_multi_tenant_key_is_valid():
    assert parse_tracestate("tenant1@vendor=value") == "tenant1@vendor=value"


def test_tracestate_empty_members_are_skipped():
    assert parse_tracestate("a=1, ,,\tb=2 ,") == "a=1,b=2"


def test_tracestate_with_32_members_is_kept():
    value = ",".join(f"k{i}=v{i}" for i in range(32))
    assert parse_tracestate(value) == value


def test_tracestate_with_33_members_is_dropped():
    assert parse_tracestate(",".join(f"k{i}=v{i}" for i in range(33))) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("a=1,a=2", id="duplicate-key"),
        pytest.param("Upper=1", id="uppercase-key"),
        pytest.param("1abc=1", id="key-starts-with-digit"),
        pytest.param("novalue", id="no-equals"),
        pytest.param("a=", id="empty-value"),
        pytest.param("a=x=y", id="equals-in-value"),
        pytest.param("k" * 257 + "=v", id="key-too-long"),
        pytest.param("a=1,b=\x01", id="control-char-in-value"),
        pytest.param("a=é", id="non-ascii-value"),
        pytest.param("a=" + "v" * 257, id="value-too-long"),
        pytest.param("", id="empty"),
        pytest.param(" , ", id="only-empty-members"),
    ],
)
def test_invalid_tracestate_is_dropped_whole(value):
    assert parse_tracestate(value) is None


# --- plain ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a", "req-123", "A.b_c~d:e+f/g=h@i-j", "x" * 128, TRACE_ID],
)
def test_valid_plain_ids(value):
    assert valid_plain_id(value) == value


def test_plain_id_is_trimmed_of_spaces_and_tabs():
    assert valid_plain_id(" \tabc-1\t ") == "abc-1"


BAD_PLAIN_IDS = [
    pytest.param("", id="empty"),
    pytest.param("   ", id="only-spaces"),
    pytest.param("x" * 129, id="129-chars"),
    pytest.param("x" * 10_240, id="10-KB"),
    pytest.param("abc\x00def", id="nul"),
    pytest.param("abc\x1bdef", id="escape-char"),
    pytest.param("abc\r\ndef", id="crlf"),
    pytest.param("abc\ndef", id="lf"),
    pytest.param("abc,def", id="comma"),
    pytest.param("abc, def", id="repeated-header-joined"),
    pytest.param("abcé", id="non-ascii"),
    pytest.param("a b", id="inner-space"),
    pytest.param('a"b', id="quote"),
    pytest.param("a<script>", id="angle-brackets"),
]


@pytest.mark.parametrize("value", BAD_PLAIN_IDS)
def test_invalid_plain_id_is_none(value):
    assert valid_plain_id(value) is None


# --- choosing the header -----------------------------------------------------------------


def environ(**headers: str) -> dict[str, str]:
    return {"HTTP_" + name.upper(): value for name, value in headers.items()}


def test_default_order_is_traceparent_traceid_request_id_correlation_id():
    assert DEFAULT_ID_HEADERS == ("traceparent", "traceid", "X-Request-ID", "X-Correlation-ID")


@pytest.mark.parametrize(
    ("headers", "trace_id", "source"),
    [
        (
            {"traceparent": TRACEPARENT, "traceid": "t", "x_request_id": "r"},
            TRACE_ID,
            "traceparent",
        ),
        ({"traceid": "t", "x_request_id": "r", "x_correlation_id": "c"}, "t", "traceid"),
        ({"x_request_id": "r", "x_correlation_id": "c"}, "r", "x-request-id"),
        ({"x_correlation_id": "c"}, "c", "x-correlation-id"),
    ],
)
def test_first_present_header_in_default_order_wins(headers, trace_id, source):
    incoming = InboundHeaders().extract(environ(**headers))
    assert (incoming.trace_id, incoming.source, incoming.rejected) == (trace_id, source, ())


def test_traceparent_gives_parent_flags_and_tracestate():
    incoming = InboundHeaders().extract(
        environ(traceparent=f"00-{TRACE_ID}-{PARENT_ID}-02", tracestate="a=1")
    )
    assert incoming.parent_id == PARENT_ID
    assert incoming.flags == "02"
    assert incoming.tracestate == "a=1"


def test_tracestate_without_traceparent_is_ignored():
    incoming = InboundHeaders().extract(environ(traceid="t", tracestate="a=1"))
    assert incoming.tracestate is None


def test_tracestate_with_invalid_traceparent_is_ignored():
    incoming = InboundHeaders().extract(
        environ(traceparent="00-bad", traceid="t", tracestate="a=1")
    )
    assert (incoming.trace_id, incoming.tracestate) == ("t", None)


def test_invalid_headers_fall_through_to_the_next_valid_one():
    incoming = InboundHeaders().extract(
        environ(traceparent="garbage", traceid="a,b", x_request_id="req-1")
    )
    assert incoming.trace_id == "req-1"
    assert incoming.source == "x-request-id"
    assert incoming.rejected == ("traceparent", "traceid")
    assert incoming.parent_id is None


def test_no_valid_header_gives_a_new_id_and_names_the_rejected():
    incoming = InboundHeaders().extract(environ(traceid="x" * 10_240))
    assert incoming.source == "generated"
    assert incoming.rejected == ("traceid",)
    assert len(incoming.trace_id) == 32


def test_no_header_at_all_gives_a_new_id():
    incoming = InboundHeaders().extract({})
    assert (incoming.source, incoming.rejected, incoming.parent_id) == ("generated", (), None)


def test_configured_headers_replace_the_default_list_and_order():
    inbound = InboundHeaders(["X-Amzn-Trace-Id", "traceid"])
    incoming = inbound.extract(
        environ(traceparent=TRACEPARENT, traceid="t", x_amzn_trace_id="Root=1-abc")
    )
    assert (incoming.trace_id, incoming.source) == ("Root=1-abc", "x-amzn-trace-id")
    assert inbound.names == ("x-amzn-trace-id", "traceid")


# --- plain ids and their W3C trace-id ---------------------------------------------------


@pytest.mark.parametrize(
    ("plain", "derived"),
    [
        ("3ce6bd8a-338c-4c3d-82fc-158db314277b", "3ce6bd8a338c4c3d82fc158db314277b"),
        ("3CE6BD8A-338C-4C3D-82FC-158DB314277B", "3ce6bd8a338c4c3d82fc158db314277b"),
        (TRACE_ID.upper(), TRACE_ID),
        (TRACE_ID, TRACE_ID),
        ("req-391", hashlib.sha256(b"req-391").hexdigest()[:32]),
        ("0" * 32, "0" * 31 + "1"),
        ("00000000-0000-0000-0000-000000000000", "0" * 31 + "1"),
    ],
)
def test_w3c_trace_id_of_a_plain_id(plain, derived):
    assert w3c_trace_id(plain) == derived


@pytest.mark.parametrize("plain", ["req-391", "a", "x" * 128, "Root=1-abc/def@host"])
def test_a_hashed_id_is_stable_32_hex_and_a_valid_w3c_trace_id(plain):
    derived = w3c_trace_id(plain)
    assert derived == w3c_trace_id(plain)
    assert parse_traceparent(f"00-{derived}-{PARENT_ID}-01") == (derived, PARENT_ID, "01")


@pytest.mark.parametrize(
    ("plain", "header"),
    [
        ("req-391", "traceid"),
        ("3ce6bd8a-338c-4c3d-82fc-158db314277b", "traceid"),
        (TRACE_ID.upper(), "traceid"),
        ("req-391", "x-request-id"),
    ],
)
def test_a_plain_id_with_the_traceparent_derived_from_it_keeps_the_plain_id(plain, header):
    headers = {header.replace("-", "_"): plain}
    incoming = InboundHeaders().extract(
        environ(traceparent=f"00-{w3c_trace_id(plain)}-{PARENT_ID}-01", tracestate="a=1", **headers)
    )
    assert (incoming.trace_id, incoming.parent_id, incoming.source) == (plain, PARENT_ID, header)
    assert incoming.tracestate == "a=1"


def test_a_plain_id_that_does_not_match_the_traceparent_loses_to_it():
    incoming = InboundHeaders().extract(environ(traceparent=TRACEPARENT, traceid="req-391"))
    assert (incoming.trace_id, incoming.parent_id, incoming.source) == (
        TRACE_ID,
        PARENT_ID,
        "traceparent",
    )
