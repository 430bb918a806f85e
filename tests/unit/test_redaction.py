"""Secrets never reach a log: headers, URL credentials and secret-named fields."""

from __future__ import annotations

import pytest

from traced_http.log_format import jsonable
from traced_http.redaction import REDACTED, Redactor

redactor = Redactor()


@pytest.mark.parametrize(
    "name",
    ["Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "X-Api-Key", "cookie"],
)
def test_default_secret_headers(name):
    assert redactor.secret_header(name)


@pytest.mark.parametrize("name", ["Content-Type", "Accept", "traceid", "User-Agent"])
def test_ordinary_headers_are_logged(name):
    assert not redactor.secret_header(name)


@pytest.mark.parametrize(
    "name",
    ["password", "passwd", "secret", "token", "api_key", "apikey", "access_token", "DB_Password"],
)
def test_secret_field_names_match_case_insensitively_anywhere_in_the_name(name):
    assert redactor.secret_field(name)


@pytest.mark.parametrize("name", ["user", "email", "pass", "key"])
def test_ordinary_field_names_are_logged(name):
    assert not redactor.secret_field(name)


def test_json_fields_are_redacted_at_any_depth():
    value = {
        "user": "ann",
        "password": "p1",
        "nested": {"deeper": [{"access_token": "t1", "keep": 1}], "ClientSecret": "s"},
    }
    assert jsonable(value, redactor.secret_field) == {
        "user": "ann",
        "password": REDACTED,
        "nested": {"deeper": [{"access_token": REDACTED, "keep": 1}], "ClientSecret": REDACTED},
    }


def test_redacting_does_not_change_the_original():
    value = {"token": "t"}
    jsonable(value, redactor.secret_field)
    assert value == {"token": "t"}


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ann:hunter2@example.com/x", f"https://{REDACTED}@example.com/x"),
        (
            "https://example.com/x?a=1&token=t&b=2",
            f"https://example.com/x?a=1&token={REDACTED}&b=2",
        ),
        ("https://example.com/x?API_KEY=k", f"https://example.com/x?API_KEY={REDACTED}"),
        ("https://example.com/x?a=1", "https://example.com/x?a=1"),
    ],
)
def test_url_credentials_and_secret_query_fields_are_redacted(url, expected):
    assert redactor.url(url) == expected


@pytest.mark.parametrize(
    "text",
    [
        '{"user": "ann", "password": "hunter2", "other"',
        "user=ann&password=hunter2&x",
        '{"outer": {"refresh_token": "hunter2"',
    ],
)
def test_secrets_in_a_cut_or_broken_body_are_hidden(text):
    hidden = redactor.text(text)
    assert "hunter2" not in hidden
    assert REDACTED in hidden
    assert "ann" in hidden or "outer" in hidden


def test_configured_lists_replace_the_defaults():
    custom = Redactor(headers=["X-Session"], fields=["pin"])
    assert custom.secret_header("X-Session")
    assert not custom.secret_header("Authorization")
    assert jsonable({"PIN": 1, "password": "p"}, custom.secret_field) == {
        "PIN": REDACTED,
        "password": "p",
    }
