"""Session defaults a caller relies on: a timeout, a shared pooled session with no
cookie jar, and the environment's proxy settings (cached, yet seen when they change)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from flask import Flask, jsonify, make_response, request

import traced_http as traced
from traced_http.session import DEFAULT_TIMEOUT
from traced_http.testing import serve_app

URL = "http://api.example/x"


@pytest.fixture
def rsps(traced_responses: Any) -> Any:
    """The kit's ``traced_responses``, with this module's routes."""
    traced_responses.add("GET", URL, body="ok")
    traced_responses.add("GET", "http://api.example/moved", status=302, headers={"Location": URL})
    return traced_responses


def _reached_adapter(rsps: Any, key: str) -> list[Any]:
    """What ``HTTPAdapter.send`` received for ``key`` on each call (responses patches it)."""
    return [call.request.req_kwargs[key] for call in rsps.calls]


# --- timeout --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session_kwargs", "call_kwargs", "expected"),
    [
        ({}, {}, DEFAULT_TIMEOUT),
        ({"timeout": 3}, {}, 3),
        ({"timeout": (1, 2)}, {}, (1, 2)),
        ({"timeout": None}, {}, None),
        ({}, {"timeout": 1.5}, 1.5),
        ({"timeout": None}, {"timeout": 7}, 7),
        ({}, {"timeout": None}, None),
    ],
    ids=[
        "default",
        "session-int",
        "session-tuple",
        "session-none",
        "call",
        "call-over-none",
        "call-none",
    ],
)
def test_timeout_that_reaches_the_adapter(rsps, session_kwargs, call_kwargs, expected):
    session = traced.TracedSession(**session_kwargs)

    session.get(URL, **call_kwargs)

    assert _reached_adapter(rsps, "timeout") == [expected]


def test_default_timeout_on_every_redirect_hop(rsps):
    traced.TracedSession().get("http://api.example/moved")

    assert _reached_adapter(rsps, "timeout") == [DEFAULT_TIMEOUT, DEFAULT_TIMEOUT]


def test_positional_timeout_wins(rsps):
    # Session.request(method, url, params, data, headers, cookies, files, auth, timeout)
    traced.TracedSession().request("GET", URL, None, None, None, None, None, None, 4)

    assert _reached_adapter(rsps, "timeout") == [4]


def test_session_send_uses_the_default_timeout(rsps):
    session = traced.TracedSession(timeout=2)

    session.send(session.prepare_request(requests.Request("GET", URL)))

    assert _reached_adapter(rsps, "timeout") == [2]


@pytest.mark.parametrize(
    "call",
    [
        traced.get,
        traced.head,
        traced.options,
        traced.delete,
        lambda url: traced.request("GET", url),
    ],
)
def test_module_functions_use_the_default_timeout(rsps, call):
    rsps.add("HEAD", URL)
    rsps.add("OPTIONS", URL)
    rsps.add("DELETE", URL)

    call(URL)

    assert _reached_adapter(rsps, "timeout") == [DEFAULT_TIMEOUT]


# --- the default session --------------------------------------------------------------


@pytest.fixture
def keep_default_session() -> Iterator[None]:
    saved = traced.default_session()
    yield
    traced.set_default_session(saved)


def test_default_session_is_shared(keep_default_session):
    assert traced.default_session() is traced.default_session()
    assert isinstance(traced.default_session(), traced.TracedSession)


def test_set_default_session_is_used_by_module_functions(rsps, keep_default_session):
    mine = traced.TracedSession(timeout=9)
    traced.set_default_session(mine)

    traced.get(URL)

    assert traced.default_session() is mine
    assert _reached_adapter(rsps, "timeout") == [9]


def test_set_default_session_none_makes_a_new_one(keep_default_session):
    before = traced.default_session()

    traced.set_default_session(None)

    after = traced.default_session()
    assert after is not before
    assert isinstance(after, traced.TracedSession)
    assert traced.default_session() is after


@pytest.fixture(scope="module")
def cookie_server() -> Iterator[str]:
    app = Flask("cookies")

    @app.route("/set")
    def set_cookie() -> Any:
        response = make_response("set")
        response.set_cookie("sid", "user-1-session")
        return response

    @app.route("/echo")
    def echo() -> Any:
        return jsonify(
            cookie=request.headers.get("Cookie"), port=request.environ.get("REMOTE_PORT")
        )

    with serve_app(app) as url:
        yield url


def test_default_session_carries_no_cookie_to_the_next_call(cookie_server):
    first = traced.get(cookie_server + "/set")
    second = traced.get(cookie_server + "/echo")

    assert first.cookies.get("sid") == "user-1-session"
    assert second.json()["cookie"] is None
    assert len(traced.default_session().cookies) == 0


def test_cookies_given_for_one_call_are_sent_on_that_call_only(cookie_server):
    with_cookie = traced.get(cookie_server + "/echo", cookies={"lang": "fr"})
    without = traced.get(cookie_server + "/echo")

    assert with_cookie.json()["cookie"] == "lang=fr"
    assert without.json()["cookie"] is None


def test_a_traced_session_of_ones_own_keeps_cookies_like_requests(cookie_server):
    session = traced.TracedSession()

    session.get(cookie_server + "/set")

    assert session.get(cookie_server + "/echo").json()["cookie"] == "sid=user-1-session"


class _PortEcho(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (Werkzeug's server closes every connection)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = str(self.client_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def keep_alive_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PortEcho)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_default_session_reuses_its_connection(keep_alive_server):
    ports = {traced.get(keep_alive_server).text for _ in range(3)}

    assert len(ports) == 1


# --- proxies from the environment -----------------------------------------------------

PROXY_VARS = [
    name
    for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    for name in (base, base.upper())
]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in [*PROXY_VARS, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_proxy_from_the_environment_reaches_the_adapter_and_changes_are_seen(rsps, clean_env):
    session = traced.TracedSession()

    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    session.get(URL)
    session.get(URL)
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:8888")
    session.get(URL)
    clean_env.delenv("HTTP_PROXY")
    session.get(URL)

    proxies = [p.get("http") for p in _reached_adapter(rsps, "proxies")]
    assert proxies == [
        "http://127.0.0.1:3128",
        "http://127.0.0.1:3128",
        "http://127.0.0.1:8888",
        None,
    ]


def test_no_proxy_is_honoured(rsps, clean_env):
    rsps.add("GET", "http://other.example/x", body="ok")
    session = traced.TracedSession()
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:3128")
    clean_env.setenv("NO_PROXY", "api.example")

    session.get(URL)
    session.get("http://other.example/x")
    clean_env.setenv("NO_PROXY", "other.example")
    session.get(URL)

    proxies = [p.get("http") for p in _reached_adapter(rsps, "proxies")]
    assert proxies == [None, "http://127.0.0.1:3128", "http://127.0.0.1:3128"]


def test_per_call_proxies_win_over_the_environment(rsps, clean_env):
    clean_env.setenv("HTTP_PROXY", "http://127.0.0.1:3128")

    traced.TracedSession().get(URL, proxies={"http": "http://127.0.0.1:9999"})

    assert _reached_adapter(rsps, "proxies")[0]["http"] == "http://127.0.0.1:9999"


ENVIRONMENTS = [
    {},
    {"HTTP_PROXY": "http://127.0.0.1:3128"},
    {"http_proxy": "http://127.0.0.1:1", "HTTPS_PROXY": "http://127.0.0.1:2"},
    {"ALL_PROXY": "socks5://127.0.0.1:1080", "NO_PROXY": "*.example,localhost"},
    {"HTTPS_PROXY": "http://127.0.0.1:2", "no_proxy": "secure.example:8443"},
    {"HTTP_PROXY": "http://127.0.0.1:3", "NO_PROXY": "*"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/ca.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"},
]
TARGETS = [
    ("http://api.example/x", None, None),
    ("https://secure.example:8443/x", None, True),
    ("https://secure.example/x", {"https": "http://127.0.0.1:7"}, False),
    ("http://localhost:5000/", {"no_proxy": "localhost"}, "/my/ca.pem"),
]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_environment_settings_match_requests(clean_env, env):
    for name, value in env.items():
        clean_env.setenv(name, value)
    ours, theirs = traced.TracedSession(), requests.Session()

    for url, proxies, verify in TARGETS * 2:  # twice: the second answer is from the cache
        assert ours.merge_environment_settings(
            url, dict(proxies or {}), None, verify, None
        ) == theirs.merge_environment_settings(url, dict(proxies or {}), None, verify, None)


def test_traced_head_does_not_follow_redirects_unless_asked(rsps, trace_events):
    rsps.add("HEAD", "http://api.example/moved", status=302, headers={"Location": URL})
    rsps.add("HEAD", URL)

    assert traced.head("http://api.example/moved").status_code == 302
    assert traced.head("http://api.example/moved", allow_redirects=True).status_code == 200

    statuses = [e["msg_dict"]["status_code"] for e in trace_events if e["event_des"] == "call"]
    assert statuses == [302, 302, 200]
