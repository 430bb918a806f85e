"""Hostile input, property-tested: header parsers and redaction never raise, never leak.

Whatever a client sends, the id in use is a valid one, and an invalid inbound id is
neither echoed on the response nor written in any log line (the start event names the
header it rejected, not the value).
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traced_http.bodies import FORM, JSON, TEXT, capture
from traced_http.log_format import jsonable
from traced_http.propagation import (
    DEFAULT_ID_HEADERS,
    InboundHeaders,
    parse_traceparent,
    parse_tracestate,
    valid_plain_id,
)
from traced_http.redaction import REDACTED, Redactor
from traced_http.testing import capture_events, events_of

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))

PLAIN_ID = re.compile(r"[A-Za-z0-9._~:+/=@-]{1,128}")
HEX = "0123456789abcdef"

# Any text, biased towards what header parsers must get right: separators, whitespace,
# hex, controls and near-miss traceparents.
header_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=HEX + "-, \t=\r\n\x00Ff", max_size=120),
    st.builds(
        lambda version, trace, span, flags, tail: f"{version}-{trace}-{span}-{flags}{tail}",
        st.text(alphabet=HEX + "F", min_size=1, max_size=3),
        st.text(alphabet=HEX + "G", min_size=30, max_size=33),
        st.text(alphabet=HEX, min_size=15, max_size=17),
        st.text(alphabet=HEX + "z", min_size=1, max_size=3),
        st.text(alphabet="-ab \t", max_size=5),
    ),
)


@FAST
@given(header_text)
def test_valid_plain_id_accepts_only_ids_in_the_allowed_alphabet(value: str) -> None:
    result = valid_plain_id(value)
    if result is not None:
        assert PLAIN_ID.fullmatch(result)
        assert result == value.strip(" \t")


@FAST
@given(header_text)
def test_parse_traceparent_gives_a_usable_w3c_context_or_nothing(value: str) -> None:
    result = parse_traceparent(value)
    if result is not None:
        trace_id, parent_id, flags = result
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32
        assert re.fullmatch(r"[0-9a-f]{16}", parent_id) and parent_id != "0" * 16
        assert flags in ("00", "01", "02", "03")
        assert not value.strip(" \t").startswith("ff")


tracestate_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.builds(
            lambda key, value: f"{key}={value}",
            st.text(alphabet="abz09_-*/@", max_size=12),
            st.text(alphabet="abc =,\t\x7f~!", max_size=12),
        ),
        max_size=40,
    ).map(",".join),
)


@FAST
@given(tracestate_text)
def test_parse_tracestate_keeps_only_a_valid_bounded_header(value: str) -> None:
    result = parse_tracestate(value)
    if result is not None:
        members = result.split(",")
        assert 1 <= len(members) <= 32
        keys = [member.partition("=")[0] for member in members]
        assert len(set(keys)) == len(keys)
        assert all(32 <= ord(ch) <= 126 for ch in result)
        assert parse_tracestate(result) == result


header_names = st.sampled_from([*DEFAULT_ID_HEADERS, "tracestate"])


def _environ_key(name: str) -> str:
    return "HTTP_" + name.upper().replace("-", "_")


@FAST
@given(st.dictionaries(header_names, header_text, max_size=5))
def test_inbound_extract_always_gives_a_valid_id_and_names_what_it_rejected(
    headers: dict[str, str],
) -> None:
    environ = {_environ_key(name): value for name, value in headers.items()}
    incoming = InboundHeaders().extract(environ)

    if incoming.source == "generated":
        assert re.fullmatch(r"[0-9a-f]{32}", incoming.trace_id)
    elif incoming.source == "traceparent":
        assert parse_traceparent(headers["traceparent"]) is not None
        assert re.fullmatch(r"[0-9a-f]{32}", incoming.trace_id)
    else:
        assert PLAIN_ID.fullmatch(incoming.trace_id)
        assert incoming.source in {name.lower() for name in headers}
    for name in incoming.rejected:
        assert name != incoming.source
    if incoming.tracestate is not None:
        assert incoming.source == "traceparent"


def _invalid(value: str) -> bool:
    return valid_plain_id(value) is None and parse_traceparent(value) is None


# Invalid ids a client may send; distinctive enough to search for in the log lines.
invalid_id = st.builds(
    lambda core, bad: f"ZQX{core}{bad}",
    st.text(alphabet="abcdef0123456789", min_size=4, max_size=40),
    st.sampled_from(
        [
            " two words",
            ",second",
            "\x1b[31m",
            '"quoted"',
            "<script>",
            "x" * 130,
            "\u00e9\u4e2d",
            "\x7f",
            ";drop",
        ]
    ),
).filter(_invalid)


VALID_IDS = {
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "traceid": "order-7f3a",
    "X-Request-ID": "req-42",
    "X-Correlation-ID": "corr-9",
}


def test_an_invalid_inbound_id_is_never_echoed_nor_logged(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app("svc")

    @app.route("/x")
    def view() -> str:
        return "ok"

    client = app.test_client()

    @SLOW
    @given(st.sampled_from(DEFAULT_ID_HEADERS), invalid_id, st.sampled_from(DEFAULT_ID_HEADERS))
    def check(header: str, value: str, valid_header: str) -> None:
        environ = {_environ_key(header): value}
        if valid_header != header:  # a valid id in another header, before or after it
            environ[_environ_key(valid_header)] = VALID_IDS[valid_header]
        with capture_events() as events:
            response = client.get("/x", environ_base=environ)
        assert response.status_code == 200
        echoed = response.headers["traceid"]
        assert all("ZQX" not in v for _, v in response.headers.items())
        assert "ZQX" not in json.dumps(events)
        (start,) = events_of(events, "start")
        assert start["traceid"] == echoed
        names = [name.lower() for name in DEFAULT_ID_HEADERS]
        if valid_header == header:
            assert re.fullmatch(r"[0-9a-f]{32}", echoed)
            assert start["msg_dict"]["id_source"] == "generated"
            assert start["msg_dict"]["rejected_headers"] == [header.lower()]
        else:
            assert start["msg_dict"]["id_source"] == valid_header.lower()
            value = VALID_IDS[valid_header]
            assert echoed == (value.split("-")[1] if valid_header == "traceparent" else value)
            rejected = start["msg_dict"].get("rejected_headers", [])
            precedes = names.index(header.lower()) < names.index(valid_header.lower())
            assert rejected == ([header.lower()] if precedes else [])

    check()


any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

redactor = Redactor()


@FAST
@given(st.one_of(any_json, st.text(max_size=200)))
def test_redactor_value_text_url_and_query_never_raise(value: Any) -> None:
    out = jsonable(value, redactor)
    json.dumps(out)
    text = value if isinstance(value, str) else json.dumps(value)
    assert isinstance(redactor.text(text), str)
    assert isinstance(redactor.url(text), str)
    assert isinstance(redactor.url("http://h/p?" + text), str)
    assert isinstance(redactor.query(text), str)


SECRET_NAMES = st.sampled_from(
    [
        "password",
        "Passwd",
        "client_secret",
        "access_token",
        "TOKEN",
        "api_key",
        "apiKey",
        "x-Token",
        "na\u00efve_token",  # written \u00ef in JSON: a key with escapes
    ]
)
# Filler never contains 'S3' so the planted secret is only found where it was planted.
filler = st.text(alphabet="abcdefghijklmnopqrxyz0123456789_-. ", max_size=30)
secret_value = st.text(alphabet="abcdef0123456789", min_size=1, max_size=16).map(
    lambda tail: "S3CRET" + tail
)


@FAST
@given(any_json, SECRET_NAMES, secret_value, st.integers(min_value=0, max_value=4))
def test_redactor_value_hides_a_secret_field_at_any_depth(
    doc: Any, name: str, secret: str, depth: int
) -> None:
    planted: Any = {name: secret}
    for level in range(depth):
        planted = [planted] if level % 2 else {"level": planted}
    payload = {"doc": doc, "planted": planted}
    assert "S3CRET" not in json.dumps(jsonable(payload, redactor))


@FAST
@given(
    SECRET_NAMES,
    secret_value,
    st.text(alphabet="abcdefghijklmnopqrxyz0123456789_.", min_size=1, max_size=10),
    st.lists(st.tuples(filler, filler), max_size=4),
)
def test_redactor_url_hides_userinfo_passwords_and_secret_query_fields(
    name: str, secret: str, user: str, others: list[tuple[str, str]]
) -> None:
    from urllib.parse import urlencode

    query = urlencode([*others, (name, secret)])
    for url in (
        f"http://{user}:{secret}@example.test:8080/path?{query}",
        f"https://{user}:{secret}@example.test/",
        f"http://example.test/p?{query}#frag",
    ):
        assert "S3CRET" not in redactor.url(url)
    assert "S3CRET" not in redactor.query(query)


@FAST
@given(
    st.binary(max_size=600) | st.text(max_size=600).map(lambda t: t.encode("utf-8")),
    st.sampled_from([JSON, FORM, TEXT]),
    st.integers(min_value=0, max_value=700),
)
def test_body_capture_never_raises_and_is_json_and_bounded(
    data: bytes, kind: str, limit: int
) -> None:
    out = capture(data, kind, limit, redactor)
    json.dumps(out)  # NaN from a JSON body is the log formatter's business, not a failure
    if len(data) > limit:
        assert isinstance(out, dict) and out["length"] == len(data)
        preview = out.get("preview", "")
        # Made from at most ``limit`` bytes; a hidden value may be longer than the original.
        assert len(preview) <= limit + (len(REDACTED) + 2) * preview.count(REDACTED)


@SLOW
@given(
    any_json,
    SECRET_NAMES,
    secret_value,
    st.integers(min_value=0, max_value=2),
    st.integers(min_value=16, max_value=400),
)
def test_body_capture_never_shows_a_secret_field_whole_or_cut(
    doc: Any, name: str, secret: str, depth: int, limit: int
) -> None:
    planted: Any = secret
    for _ in range(depth):
        planted = {"inner": planted}
    body = json.dumps({"doc": doc, name: planted, "after": 1}).encode()
    for kind in (JSON, TEXT):
        out = capture(body, kind, limit, redactor)
        assert "S3CRET" not in json.dumps(out), (kind, limit, out)
    form = f"a=1&{name}={secret}&b=2".encode()
    assert "S3CRET" not in json.dumps(capture(form, FORM, limit, redactor))
