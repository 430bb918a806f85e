"""Secrets never reach a log: headers, URL credentials and secret-named fields."""

from __future__ import annotations

import pytest

from traced_http.log_format import jsonable
from traced_http.redaction import FIELDS_LIMIT, REDACTED, VALUE_LIMIT, Redactor, cut

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
    assert jsonable(value, redactor) == {
        "user": "ann",
        "password": REDACTED,
        "nested": {"deeper": [{"access_token": REDACTED, "keep": 1}], "ClientSecret": REDACTED},
    }


def test_redacting_does_not_change_the_original():
    value = {"token": "t"}
    jsonable(value, redactor)
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
        (
            "https://example.com/x/#view=edit&token=t",
            f"https://example.com/x/#view=edit&token={REDACTED}",
        ),
        ("https://example.com/x#section-2", "https://example.com/x#section-2"),
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
    assert jsonable({"PIN": 1, "password": "p"}, custom) == {
        "PIN": REDACTED,
        "password": "p",
    }


@pytest.mark.parametrize(
    "name",
    ["Api-Key", "X-Goog-Api-Key", "api-key", "X-API-KEY", "x_api_key", "Private-Key", "Session-Id"],
)
def test_names_match_with_hyphen_and_underscore_alike(name):
    assert redactor.secret_header(name)
    assert redactor.secret_field(name)


@pytest.mark.parametrize(
    "name",
    [
        "authorization",
        "Cookie",
        "set-cookie",
        "proxy_authorization",
        "session_id",
        "sessionid",
        "jwt",
        "credential",
        "credentials",
        "private_key",
        "csrf_token",
        "passphrase",
    ],
)
def test_default_list_covers_credential_carrying_field_names(name):
    logged = jsonable({"headers": {name: "s3cr3t"}, "user": "ann"}, redactor)
    assert logged == {"headers": {name: REDACTED}, "user": "ann"}


def test_request_headers_copied_into_a_user_event_lose_their_credentials():
    headers = {"Authorization": "Bearer abc.def", "Cookie": "sid=1", "Accept": "*/*"}
    assert jsonable({"headers": headers}, redactor) == {
        "headers": {"Authorization": REDACTED, "Cookie": REDACTED, "Accept": "*/*"}
    }


@pytest.mark.parametrize(
    "text",
    [
        "HTTPError: 404 Client Error: Not Found for url: http://ann:hunter2@example.com/x",
        "InvalidURL: Failed to parse: 'https://ann:hunter2@[bad/x'",
        "see ftp://ann:hunter2@files.example and http://bob:hunter2@h:81/?a=1",
        "redirected to http://h/cb#access_token=hunter2&state=1",
        "GET /x?api-key=hunter2&q=1",
        "user%5Bpassword%5D=hunter2&x=1",
        "user[password]=hunter2",
        "Authorization: Bearer hunter2\r\nAccept: */*",
        "{'X-Goog-Api-Key': 'hunter2'}",
        '{"note": "x", "credentials": {"user": "ann", "pin": "hunter2"}, "a": 1}',
        '<a><wsse:Password Type="Text">hunter2</wsse:Password><b>ann</b></a>',
        "<Session><SessionToken>hunter2</SessionToken></Session>",
        "<Credentials><User>ann</User><Pin>hunter2</Pin></Credentials>",
    ],
)
def test_secrets_in_free_text_are_hidden(text):
    hidden = redactor.text(text)
    assert "hunter2" not in hidden
    assert REDACTED in hidden


@pytest.mark.parametrize(
    "text",
    [
        "a token, a password and a secret in running text",
        "<password/> an empty element",
        "https://example.com/a?b=1 failed",
        '{"type": "token", "value": 1}',
    ],
)
def test_text_without_a_secret_field_is_unchanged(text):
    assert redactor.text(text) == text


def test_a_secret_value_that_is_an_object_is_hidden_up_to_its_end_only():
    text = '{"token": {"a": "x", "b": [1, {"c": "}"}]}, "user": "ann"}'
    assert redactor.text(text) == '{"token": "[REDACTED]", "user": "ann"}'


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://h/cb#access_token=t1&token_type=bearer&state=s",
            f"https://h/cb#access_token={REDACTED}&token_type={REDACTED}&state=s",
        ),
        ("https://h/x?api-key=k&q=1", f"https://h/x?api-key={REDACTED}&q=1"),
        ("https://h/doc#section-2", "https://h/doc#section-2"),
    ],
)
def test_url_fragments_and_hyphenated_query_names_are_redacted(url, expected):
    assert redactor.url(url) == expected


def test_a_long_url_is_cut_before_it_is_read():
    url = "https://h/x?" + "a=1&" * 1000 + "token=t"
    logged = redactor.url(url)
    assert logged.endswith(f"...[cut, {len(url)} in all]")
    assert len(logged) < VALUE_LIMIT + 40


def test_cut_keeps_short_values_and_marks_long_ones():
    assert cut("abc", 5) == "abc"
    assert cut("abcdef", 3) == "abc...[cut, 6 in all]"


def test_a_url_inside_a_url_valued_header_loses_its_credentials():
    logged = redactor.url("0; url=https://ann:hunter2@example.com/next")
    assert logged == f"0; url=https://{REDACTED}@example.com/next"


@pytest.mark.parametrize("unit", ["token=hunter2&a=1&", "<token>hunter2</token><a>1</a>"])
def test_past_the_field_limit_the_rest_of_a_text_is_hidden(unit):
    hidden = redactor.text(unit * 200)
    assert "hunter2" not in hidden
    assert hidden.count(REDACTED) == FIELDS_LIMIT + 1
    assert hidden.endswith(REDACTED)


def test_previews_hide_quoted_and_bare_keys():
    redactor = Redactor()
    secret = "hunter2-SECRET"
    for text in (
        "{'user': 'bob', 'password': '" + secret + "'}",
        "{user: 'bob', password: '" + secret + "',}",
        "bad payload {'api_key': '" + secret + "'}",
    ):
        assert secret not in redactor.text(text)
