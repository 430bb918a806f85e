"""Each fast path gives what the public-API path it replaces gives."""

from __future__ import annotations

from typing import Any

import pytest
import requests

import traced_http as traced

ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"HTTP_PROXY": "http://proxy.example:3128", "HTTPS_PROXY": "http://secure.example:3129"},
    {"https_proxy": "http://p.example:1", "no_proxy": "svc.local,.internal"},
    {"ALL_PROXY": "socks5://s.example:1080", "NO_PROXY": "*"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/bundle.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem", "HTTP_PROXY": "http://proxy.example:3128"},
]
URLS = [
    "http://svc.local/a?b=1",
    "https://api.example/x",
    "http://10.0.0.1:8080/",
    "https://x.internal/deep/path",
]
CALLS: list[dict[str, Any]] = [
    {"proxies": {}, "stream": None, "verify": None, "cert": None},
    {"proxies": {}, "stream": False, "verify": True, "cert": None},
    {"proxies": {"http": "http://call.example:1"}, "stream": None, "verify": None, "cert": None},
    {"proxies": {"no_proxy": "api.example"}, "stream": None, "verify": None, "cert": None},
    {"proxies": {}, "stream": True, "verify": "/call/ca.pem", "cert": ("c", "k")},
    {"proxies": {}, "stream": None, "verify": False, "cert": None},
]


def session_settings(session: requests.Session, variant: int) -> None:
    if variant == 1:
        session.proxies = {"https": "http://session.example:8"}
        session.verify = "/session/ca.pem"
    elif variant == 2:
        session.stream = True
        session.cert = "/session/cert.pem"


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_merged_environment_settings_are_those_of_requests(
    env: dict[str, str], variant: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    traced_session = traced.TracedSession()
    plain = requests.Session()
    session_settings(traced_session, variant)
    session_settings(plain, variant)
    for _ in range(2):  # the second round is answered from the cache
        for url in URLS:
            for call in CALLS:
                expected = plain.merge_environment_settings(url, **call)
                got = traced_session.merge_environment_settings(url, **call)
                assert got == expected, (url, call)


def test_a_changed_environment_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    session = traced.TracedSession()
    url = "http://svc.local/"
    assert session.merge_environment_settings(url, {}, None, None, None)["proxies"] == {}
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    merged = session.merge_environment_settings(url, {}, None, None, None)
    assert merged == requests.Session().merge_environment_settings(url, {}, None, None, None)
    assert merged["proxies"]["http"] == "http://proxy.example:3128"


def test_a_cached_answer_is_not_shared_with_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    session = traced.TracedSession()
    first = session.merge_environment_settings("http://svc.local/", {}, None, None, None)
    first["proxies"]["http"] = "changed"
    again = session.merge_environment_settings("http://svc.local/", {}, None, None, None)
    assert again["proxies"]["http"] == "http://proxy.example:3128"


def test_an_event_record_is_what_make_record_would_make() -> None:
    import logging
    import time

    from traced_http.fast_paths import make_event_record

    logger = logging.getLogger("traced_http")
    now = time.time()
    fast = make_event_record(logger, "message", now, "t" * 32, "s" * 16)
    plain = logger.makeRecord(logger.name, logging.INFO, fast.pathname, 0, "message", (), None)
    assert type(fast) is not logging.LogRecord  # the fast path was taken on this Python
    assert isinstance(fast, logging.LogRecord)
    assert set(vars(plain)) <= set(vars(fast))
    varying = {"created", "msecs", "relativeCreated"}
    for name in set(vars(plain)) - varying:
        assert getattr(fast, name) == getattr(plain, name), name
    assert fast.created == now
    assert abs(fast.msecs - (now - int(now)) * 1000) < 1
    assert abs(fast.relativeCreated - plain.relativeCreated) < 60_000
    assert (fast.traceid, fast.span_id) == ("t" * 32, "s" * 16)  # type: ignore[attr-defined]
    assert fast.getMessage() == plain.getMessage() == "message"
    assert logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s").format(fast)


def test_an_application_record_factory_is_used() -> None:
    import logging
    import time

    from traced_http.fast_paths import make_event_record

    made = []
    factory = logging.getLogRecordFactory()

    def own(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record)
        return record

    logging.setLogRecordFactory(own)
    try:
        record = make_event_record(logging.getLogger("traced_http"), "m", time.time(), None, None)
    finally:
        logging.setLogRecordFactory(factory)
    assert made == [record]


JSON_VALUES: list[Any] = [
    {"a": 1, "b": [1.5, None, True, False], "c": {"d": 'é\u2028\n"\\'}},
    [],
    {},
    "text",
    10**30,
    -0.0,
    1e300,
    {"nested": [[[{"k": "v"}]]], "unicode": "日本語", "ctrl": "\x00\x1f"},
]


@pytest.mark.parametrize("value", JSON_VALUES)
def test_strict_json_is_the_public_encoder(value: Any) -> None:
    import json

    from traced_http.fast_paths import strict_json

    public = json.JSONEncoder(allow_nan=False, check_circular=False)
    assert strict_json(value) == public.encode(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [(float("nan"), ValueError), ({"x": float("inf")}, ValueError), ({"x": object()}, TypeError)],
)
def test_strict_json_refuses_what_the_public_encoder_refuses(value: Any, error: type) -> None:
    import json

    from traced_http.fast_paths import strict_json

    public = json.JSONEncoder(allow_nan=False, check_circular=False)
    with pytest.raises(error):
        public.encode(value)
    with pytest.raises(error):
        strict_json(value)


def test_header_names_are_werkzeugs() -> None:
    from werkzeug.datastructures import EnvironHeaders

    from traced_http.fast_paths import header_name, header_names

    environ = {
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "3",
        "HTTP_HOST": "svc",
        "HTTP_X_API_KEY": "k",
        "HTTP_TRACEPARENT": "00-...",
        "HTTP_X_REQUEST_ID": "r",
        "HTTP_ACCEPT_ENCODING": "gzip",
        "HTTP_" + "LONG_" * 20: "long key, not cached",
        "SERVER_NAME": "svc",
        "wsgi.input": None,
        "REQUEST_METHOD": "GET",
    }
    expected = dict(EnvironHeaders(environ).items())
    for _ in range(2):  # the second round is answered from the cache
        got = {}
        for key, value in environ.items():
            name = header_names.get(key)
            if name is None:
                name = header_name(key)
            if name:
                got[name] = value
        assert got == expected


def test_header_names_cached_are_bounded() -> None:
    from traced_http.fast_paths import header_name, header_names

    for i in range(5000):
        header_name(f"HTTP_X_CLIENT_CHOSEN_{i}")
    assert len(header_names) <= 1024
