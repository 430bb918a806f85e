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
    [
        ("00", "00"),
        ("01", "01"),
        ("02", "02"),
        ("03", "03"),
        ("09", "01"),
        ("0b", "03"),
        ("fe", "02"),
        ("ff", "03"),
        ("fc", "00"),
    ],
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
# The list-member grammar of the W3C Trace Context text, Tracestate Header section:
# key = ( lcalpha / DIGIT ) 0*255( keychar ); keychar = lcalpha / DIGIT / "_" / "-" / "*" /
# "/" / "@"; value = up to 256 of %x20-7E except "," and "=", not ending in a space.

KEY_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@"
VALUE_CHARS = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ",=")


def test_valid_tracestate_is_kept():
    assert parse_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7") == (
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    )


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("foo@", id="ends-with-at"),
        pytest.param("foo@@bar", id="two-ats"),
        pytest.param("foo@bar@baz", id="ats-inside"),
        pytest.param("tenant1@vendor", id="multi-tenant"),
        pytest.param("1abc", id="starts-with-digit"),
        pytest.param("z" * 256, id="256-chars"),
        pytest.param("t" * 241 + "@" + "v" * 14, id="tenant-241-vendor-14"),
        pytest.param("t" * 242 + "@v", id="tenant-242"),
        pytest.param("t@" + "v" * 15, id="vendor-15"),
        pytest.param(KEY_CHARS, id="every-key-char"),
    ],
)
def test_tracestate_keys_of_the_current_grammar_are_valid(key):
    assert parse_tracestate(f"{key}=1,bar=2") == f"{key}=1,bar=2"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(VALUE_CHARS.strip(" "), id="every-value-char"),
        pytest.param("v" * 256, id="256-chars"),
        pytest.param("a b", id="inner-space"),
    ],
)
def test_tracestate_values_of_the_current_grammar_are_valid(value):
    assert parse_tracestate(f"foo={value}") == f"foo={value}"


def test_tracestate_value_keeps_its_leading_spaces_and_loses_its_trailing_ones():
    assert parse_tracestate("foo=  1  ,bar=2\t") == "foo=  1,bar=2"


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        pytest.param("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3", id="ows-around-commas"),
        pytest.param("\t foo=1 \t", "foo=1", id="ows-around-the-header"),
        pytest.param("a=1, ,,\tb=2 ,", "a=1,b=2", id="empty-and-whitespace-members"),
        pytest.param("a=1, ,b=2", "a=1,b=2", id="an-empty-member-between-two"),
        pytest.param(
            "foo=1,bar=2, rojo=1,congo=2, baz=3",
            "foo=1,bar=2,rojo=1,congo=2,baz=3",
            id="joined-fields-in-order",
        ),
        pytest.param("foo=1, ", "foo=1", id="joined-with-an-empty-field"),
        pytest.param(", foo=1", "foo=1", id="an-empty-field-joined-first"),
    ],
)
def test_tracestate_empty_members_and_optional_whitespace_are_dropped(value, sent):
    """Several ``tracestate`` fields reach the app comma-joined in order (RFC 9110)."""
    assert parse_tracestate(value) == sent


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("foo=1,foo=1", "foo=1"),
        ("foo=1,foo=2", "foo=1"),
        ("a=1,b=2,a=3,c=4", "a=1,b=2,c=4"),
    ],
)
def test_tracestate_duplicated_key_keeps_the_header_and_its_first_member(value, sent):
    assert parse_tracestate(value) == sent


def test_tracestate_with_32_members_is_kept_however_many_empty_ones():
    members = [f"k{i}=v{i}" for i in range(32)]
    assert parse_tracestate(", ,".join(members) + ",") == ",".join(members)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(",".join(f"k{i}=v{i}" for i in range(33)), id="33-members"),
        pytest.param(",".join(f"k{i}=v{i}" for i in range(32)) + ",k0=again", id="33-one-dup"),
    ],
)
def test_tracestate_with_more_than_32_members_is_dropped(value):
    assert parse_tracestate(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("@foo=1,bar=2", id="key-starts-with-at"),
        pytest.param("_foo=1", id="key-starts-with-underscore"),
        pytest.param("z" * 257 + "=1", id="257-char-key"),
        pytest.param("Upper=1", id="uppercase-key"),
        pytest.param("foo.bar=1", id="dot-in-key"),
        pytest.param("foo =1", id="space-before-equals"),
        pytest.param("=1", id="empty-key"),
        pytest.param("novalue", id="no-equals"),
        pytest.param("foo=,bar=3", id="empty-value"),
        pytest.param("foo= ", id="value-only-spaces"),
        pytest.param("foo=bar=baz", id="equals-in-value"),
        pytest.param("foo=" + "v" * 257, id="257-char-value"),
        pytest.param("foo=a\tb", id="tab-in-value"),
        pytest.param("a=1,b=\x01", id="control-char-in-value"),
        pytest.param("a=\x7f", id="del-in-value"),
        pytest.param("a=é", id="non-ascii-value"),
        pytest.param("a=1,b=2,@c=3", id="one-bad-member-last"),
    ],
)
def test_invalid_tracestate_is_dropped_whole(value):
    assert parse_tracestate(value) is None


@pytest.mark.parametrize("value", ["", " ", " , \t,", ",,,"])
def test_empty_tracestate_is_accepted_and_nothing_is_sent_on(value):
    assert parse_tracestate(value) is None


# --- plain ids ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a", "req-123", "A.b_c~d:e+f/g=h@i-j", "x" * 128, TRACE_ID],
)
def test_valid_plain_ids(value):
    assert valid_plain_id(value) == value


@pytest.mark.parametrize("padding", [" ", "\t", " \t "])
def test_plain_id_is_trimmed_of_spaces_and_tabs(padding):
    assert valid_plain_id(padding + "abc-1" + padding) == "abc-1"


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


def test_invalid_tracestate_is_dropped_and_the_traceparent_still_used():
    incoming = InboundHeaders().extract(environ(traceparent=TRACEPARENT, tracestate="a=,b=1"))
    assert (incoming.trace_id, incoming.parent_id, incoming.source) == (
        TRACE_ID,
        PARENT_ID,
        "traceparent",
    )
    assert incoming.tracestate is None


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
