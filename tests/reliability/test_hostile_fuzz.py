"""Hostile input, end to end: whatever a client or a downstream sends, tracing stays harmless.

Hypothesis drives the Flask hooks (through the test client) and the outbound session
(against a real local server) with random headers, queries, forms, JSON, XML, bytes and
encodings, each carrying planted secrets under secret names. Every example must give:
one valid JSON object per log line, no planted secret in any line, and the response an
untraced app (or plain ``requests``) gives. The scanners' cost is checked to grow
linearly with their input (a ratio of operation times, never an absolute time).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask, Response, request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_lines import WrittenLines

import traced_http as traced
from flask_hooks import Tracing
from traced_http.bodies import capture, form_fields
from traced_http.redaction import Redactor
from traced_http.testing import serve_app

# The marker the suite-wide scan (tests/conftest.py) looks for in every log line too.
PLANTED_SECRET_MARKER = "s3cr3t-PLANTED"
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

# Secret names as clients spell them: any case, - or _, inside longer names, encoded.
SECRET_NAMES = st.sampled_from(
    [
        "password",
        "Passwd",
        "client_secret",
        "access_token",
        "API-KEY",
        "x-goog-api-key",
        "apiKey",
        "Authorization",
        "cookie",
        "session_id",
        "SessionId",
        "jwt",
        "credentials",
        "private_key",
        "user[password]",
    ]
)
secret = st.text(alphabet="abcdef0123456789", min_size=1, max_size=12).map(
    lambda tail: PLANTED_SECRET_MARKER + tail
)
# Printable text without the marker's letters in a row; may hold separators and quotes.
noise = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40)
header_value = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
ENCODINGS = ["utf-8", "utf-16", "utf-16-le", "utf-32"]


@st.composite
def planted_body(draw: st.DrawFn) -> tuple[str, bytes]:
    """A content type and a body holding a planted secret under a secret name."""
    name, value = draw(SECRET_NAMES), draw(secret)
    filler = draw(st.dictionaries(st.text(alphabet="abcxyz", min_size=1, max_size=6), noise))
    kind = draw(st.sampled_from(["json", "form", "xml", "text", "bytes"]))
    pad = "x" * draw(st.sampled_from([0, 10, 3000]))  # 3000: over the capture limit
    if kind == "json":
        doc: Any = {**filler, name: value, "pad": pad}
        for _ in range(draw(st.integers(0, 3))):
            doc = draw(st.sampled_from([[doc], {"nested": doc}]))
        encoding = draw(st.sampled_from(ENCODINGS))
        return "application/json", json.dumps(doc).encode(encoding)
    if kind == "form":
        fields = [*filler.items(), (name, value), ("pad", pad)]
        return "application/x-www-form-urlencoded", urlencode(fields).encode()
    if kind == "xml":
        tag = name.replace("[", "").replace("]", "")
        xml = f"<r><a>{pad}</a><ns:{tag} t='1'>{value}</ns:{tag}></r>"
        return "application/xml", xml.encode()
    if kind == "text":
        text = f"{draw(noise)} {name}={value}&{draw(noise)}{pad}"
        return "text/plain; charset=utf-8", text.encode()
    return "application/octet-stream", draw(st.binary(max_size=64)) + value.encode()


@st.composite
def hostile_request(draw: st.DrawFn) -> dict[str, Any]:
    headers = draw(
        st.dictionaries(
            st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1),
            header_value,
            max_size=6,
        )
    )
    headers[draw(SECRET_NAMES).replace("[", "-").replace("]", "")] = draw(secret)
    headers["Referer"] = f"http://u:{draw(secret)}@h/?token={draw(secret)}#{draw(noise)}"
    pairs = draw(st.lists(st.tuples(noise, noise), max_size=5))
    query = [(draw(SECRET_NAMES), draw(secret)), *pairs]
    content_type, body = draw(planted_body())
    return {
        "method": draw(st.sampled_from(["GET", "POST", "PUT"])),
        "headers": headers,
        "query": query,
        "content_type": content_type,
        "body": body,
    }


def assert_clean(lines: list[str], expected_events: int) -> None:
    """One JSON object per line, the expected number of events, no planted secret."""
    assert len(lines) == expected_events
    for line in lines:
        assert isinstance(json.loads(line), dict)
        assert line.isascii() and line.isprintable()
        assert PLANTED_SECRET_MARKER not in line


def _echo_app(name: str) -> Flask:
    app = Flask(name)

    @app.route("/<path:anything>", methods=["GET", "POST", "PUT"])
    def anything(anything: str) -> Response:
        data = request.get_data()
        answer = {"path": anything, "args": request.args.to_dict(flat=False), "n": len(data)}
        response = Response(json.dumps(answer), content_type="application/json")
        response.headers["X-Token"] = request.headers.get("X-Token", "none")
        return response

    return app


BARE = _echo_app("bare")
TRACED = _echo_app("traced")
Tracing(TRACED)


def _send(app: Flask, req: dict[str, Any]) -> Any:
    return app.test_client().open(
        "/p/" + "a" * 5,
        method=req["method"],
        headers=req["headers"],
        query_string=req["query"],
        data=req["body"],
        content_type=req["content_type"],
    )


@FUZZ
@given(hostile_request())
def test_hooks_stay_harmless_under_hostile_requests(
    written_lines: WrittenLines, req: dict[str, Any]
) -> None:
    expected = _send(BARE, req)
    written_lines.take()

    got = _send(TRACED, req)

    assert (got.status_code, got.data) == (expected.status_code, expected.data)
    assert got.headers["X-Token"] == expected.headers["X-Token"]
    assert_clean(written_lines.take(), 2)


@pytest.fixture(scope="module")
def hostile_downstream() -> Iterator[str]:
    """A real server answering with the body and content type it is asked for."""
    app = Flask("hostile")

    @app.route("/answer", methods=["POST"])
    def answer() -> Response:
        return Response(request.get_data(), content_type=request.headers["X-Answer-Type"])

    with serve_app(app) as base:
        yield base


@FUZZ
@given(planted_body(), st.sampled_from(["GET", "POST"]), secret)
def test_session_stays_harmless_under_hostile_answers(
    written_lines: WrittenLines,
    hostile_downstream: str,
    body: tuple[str, bytes],
    method: str,
    query_secret: str,
) -> None:
    content_type, data = body
    url = f"{hostile_downstream}/answer?token={query_secret}#access_token={query_secret}"
    kwargs = {"data": data, "headers": {"X-Answer-Type": content_type}}
    expected = requests.post(url, **kwargs)  # type: ignore[arg-type]
    written_lines.take()

    got = traced.post(url, **kwargs)  # type: ignore[arg-type]

    assert (got.status_code, got.content) == (expected.status_code, expected.content)
    assert got.headers["Content-Type"] == expected.headers["Content-Type"]
    assert_clean(written_lines.take(), 1)


# Scanners and the inputs that made them super-linear, by the number of repeats.
redactor = Redactor()
SCANNERS = {
    "text": redactor.text,
    "url": lambda s: redactor.url("http://h/?" + s),
    "query": redactor.query,
    "form": lambda s: form_fields(s, redactor),
    "json": lambda s: capture(s.encode(), "json", 1 << 30, redactor),
}
UNITS = st.sampled_from(
    ["token", "token ", "token=&", "a&", "<token>", "[token:", '"\\', "a://@", "[", '{"a":', "jwt"]
)


def _cost(scan: Any, text: str) -> float:
    """Best of a few runs: the scheduler only ever adds time."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        scan(text)
        best = min(best, time.perf_counter() - start)
    return best


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(sorted(SCANNERS)), UNITS, st.text(max_size=8))
def test_scanners_cost_grows_linearly(name: str, unit: str, tail: str) -> None:
    scan = SCANNERS[name]
    small = unit * 250 + tail
    large = unit * 2000 + tail  # 8 times as long
    ratio = _cost(scan, large) / max(_cost(scan, small), 1e-6)
    # Linear work gives about 8; quadratic, 64. The margin absorbs a busy machine.
    assert ratio < 24, f"{name} over {unit!r}: 8x the input cost {ratio:.1f}x the time"
