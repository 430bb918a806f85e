"""Body capture: textual bodies recorded, bounded in size, bad input described, never raised."""

from __future__ import annotations

import json

import pytest

from traced_http.bodies import body_kind, capture
from traced_http.redaction import REDACTED, Redactor

redactor = Redactor()


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", "json"),
        ("application/problem+json; charset=utf-8", "json"),
        ("application/x-www-form-urlencoded", "form"),
        ("text/plain; charset=utf-8", "text"),
        ("application/xml", "text"),
        ("multipart/form-data; boundary=x", None),
        ("application/octet-stream", None),
        ("image/png", None),
        (None, None),
        ("", None),
    ],
)
def test_only_textual_bodies_are_captured(content_type, kind):
    assert body_kind(content_type) == kind


def test_json_is_parsed_and_redacted():
    data = json.dumps({"user": "ann", "auth": {"token": "t"}}).encode()
    assert capture(data, "json", 2048, redactor) == {"user": "ann", "auth": {"token": REDACTED}}


def test_form_is_a_dict_with_repeated_fields_as_lists_and_secrets_hidden():
    data = b"a=1&a=2&password=p&b="
    assert capture(data, "form", 2048, redactor) == {"a": ["1", "2"], "password": REDACTED, "b": ""}


def test_text_is_kept_as_text():
    assert capture("héllo".encode(), "text", 2048, redactor) == "héllo"


def test_body_over_the_limit_is_a_truncated_marker_with_full_length_and_preview():
    data = b"x" * 5000
    assert capture(data, "text", 100, redactor) == {
        "_body": "truncated",
        "length": 5000,
        "preview": "x" * 100,
    }


def test_body_exactly_at_the_limit_is_kept_whole():
    assert capture(b"x" * 100, "text", 100, redactor) == "x" * 100


def test_secrets_in_the_preview_of_a_cut_body_are_hidden():
    data = json.dumps({"password": "hunter2", "pad": "x" * 500}).encode()
    result = capture(data, "json", 60, redactor)
    assert result["_body"] == "truncated"
    assert "hunter2" not in result["preview"]
    assert REDACTED in result["preview"]


def test_a_multibyte_character_split_by_the_cut_is_dropped_not_an_error():
    data = "é".encode() * 100  # 2 bytes each: a cut at 51 splits one
    result = capture(data, "text", 51, redactor)
    assert result == {"_body": "truncated", "length": 200, "preview": "é" * 25}


def test_invalid_json_is_recorded_as_such():
    assert capture(b'{"a": 1', "json", 2048, redactor) == {
        "_body": "invalid_json",
        "length": 7,
        "preview": '{"a": 1',
    }


def test_invalid_json_preview_hides_secrets():
    result = capture(b'{"token": "hunter2",', "json", 2048, redactor)
    assert result["_body"] == "invalid_json"
    assert "hunter2" not in result["preview"]


@pytest.mark.parametrize("kind", ["json", "form", "text"])
def test_non_utf8_body_is_recorded_as_such(kind):
    assert capture(b"\xc3(bad\xff", kind, 2048, redactor) == {"_body": "not_utf8", "length": 6}


def test_non_utf8_body_over_the_limit_is_recorded_as_such():
    assert capture(b"\xff" * 300, "text", 100, redactor) == {"_body": "not_utf8", "length": 300}
