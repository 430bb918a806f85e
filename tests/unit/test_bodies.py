"""Body capture: textual bodies recorded, bounded in size, bad input described, never raised."""

from __future__ import annotations

import json

import pytest

from traced_http.bodies import (
    QUERY_READ_LIMIT,
    body_kind,
    capture,
    content_length,
    form_fields,
    query_fields,
)
from traced_http.log_format import DEPTH_LIMIT
from traced_http.redaction import FIELDS_LIMIT, REDACTED, Redactor

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


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_json_nested_deeper_than_the_limit_is_a_marker_not_a_recursion_error():
    data = _nested(1000)  # 2 KB: under the capture limit, deeper than any parser allows
    result = capture(data, "json", 4096, redactor)
    assert result["_body"] == "too_deep"
    assert result["length"] == 2000


def test_json_nested_up_to_the_limit_is_parsed():
    result = capture(_nested(DEPTH_LIMIT), "json", 4096, redactor)
    assert json.dumps(result) == _nested(DEPTH_LIMIT).decode().replace("][", "], [")


def test_brackets_inside_json_strings_do_not_count_as_nesting():
    data = json.dumps({"text": "[" * 500, "token": "t"}).encode()
    assert capture(data, "json", 4096, redactor) == {"text": "[" * 500, "token": REDACTED}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_json_in_utf16_or_utf32_is_decoded_and_redacted(encoding):
    data = json.dumps({"user": "ann", "password": "hunter2"}).encode(encoding)
    assert capture(data, "json", 4096, redactor) == {"user": "ann", "password": REDACTED}


def test_a_cut_utf16_json_body_is_previewed_decoded_and_redacted():
    data = json.dumps({"password": "hunter2", "pad": "x" * 3000}).encode("utf-16-le")
    result = capture(data, "json", 100, redactor)
    assert result["_body"] == "truncated"
    assert result["preview"].startswith('{"password": "[REDACTED]"')


@pytest.mark.parametrize("kind", ["text", "form"])
def test_text_that_is_not_utf8_text_is_never_previewed(kind):
    data = "password=hunter2".encode("utf-16-le")  # valid UTF-8 bytes, with NULs
    assert capture(data, kind, 2048, redactor) == {"_body": "not_text", "length": len(data)}
    assert capture(data * 100, kind, 64, redactor) == {"_body": "not_text", "length": 3200}


def test_browser_encoded_field_names_in_a_cut_form_are_redacted():
    data = b"user%5Bname%5D=ann&user%5Bpassword%5D=hunter2&pad=" + b"x" * 3000
    result = capture(data, "form", 100, redactor)
    assert "hunter2" not in result["preview"]
    assert "user%5Bpassword%5D=[REDACTED]" in result["preview"]


@pytest.mark.parametrize(
    "body",
    [
        b'<Envelope><wsse:Password Type="t">hunter2</wsse:Password></Envelope>',
        b"<r><SessionToken>hunter2</SessionToken><user>ann</user></r>",
    ],
)
def test_xml_elements_with_secret_names_are_redacted(body):
    result = capture(body, "text", 2048, redactor)
    assert "hunter2" not in result
    assert REDACTED in result


def test_form_fields_are_bounded_and_a_repeated_name_is_one_list():
    fields = form_fields("a&" * 10_000 + "b=1", redactor)
    assert fields["a"] == [""] * FIELDS_LIMIT
    assert fields["..."] == f"[{10_001 - FIELDS_LIMIT} more]"


def test_form_field_names_compare_with_hyphen_and_underscore_alike():
    assert form_fields("api-key=k&Api_Key=k&q=1", redactor) == {
        "api-key": REDACTED,
        "Api_Key": REDACTED,
        "q": "1",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), ("0", 0), ("²", None), ("١٢", None), ("-1", None), ("", None), (None, None)],
)
def test_content_length_is_read_from_ascii_digits_only(raw, expected):
    assert content_length(raw) == expected


def test_json_string_values_are_redacted_as_text():
    data = json.dumps(
        {"data": "user=ann&password=hunter2", "next": "https://ann:hunter2@example.com/x"}
    ).encode()
    assert capture(data, "json", 2048, redactor) == {
        "data": f"user=ann&password={REDACTED}",
        "next": f"https://{REDACTED}@example.com/x",
    }


def test_a_long_query_is_read_up_to_its_limit_and_the_rest_counted():
    query = "q=1&" + "a=" + "x" * QUERY_READ_LIMIT + "&b=2&c=3"
    assert query_fields(query, redactor) == {"q": "1", "...": "[3 more]"}
    many = "a&" * 50_000
    fields = query_fields(many, redactor)
    assert fields["a"] == [""] * FIELDS_LIMIT
    assert fields["..."] == f"[{50_001 - FIELDS_LIMIT} more]"
