"""Log injection: whatever a client or a downstream sends, one event is one log line.

Ids, URLs, headers and bodies carry newlines, quotes, ANSI escapes and NUL; every line
written must still be one JSON object of printable ASCII, so that a forged second line
(a fake event, a terminal escape) can never appear in the log.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from flask import Flask, Response, request
from log_lines import WrittenLines

import traced_http as traced
from traced_http.log_format import LOGGER_NAME
from traced_http.testing import serve_app

FORGED = '\n{"event_des": "start", "traceid": "forged"}\r\n'
NASTY = ["line1\nline2", 'say "hi"', "\x1b[31mred\x1b[0m", "nul\x00byte", "cr\rreturn", FORGED]
NASTY_TEXT = "".join(NASTY) + "\u2028\u2029\x85"


def _assert_one_line_per_record(written: WrittenLines) -> list[dict[str, Any]]:
    text = written.text
    lines = text.split("\n")[:-1]
    assert len(lines) == len(written.formatted) > 0
    assert len(text.splitlines()) == len(written.formatted)  # no \r, \x85, \u2028... either
    parsed = []
    for line in lines:
        assert all(" " <= char <= "~" for char in line), repr(line)
        parsed.append(json.loads(line))
    assert all(event.get("traceid") != "forged" for event in parsed)
    return parsed


@pytest.fixture(scope="module")
def downstream() -> Iterator[str]:
    """A real downstream that answers with hostile text, in a JSON and a text body."""
    app = Flask("downstream")

    @app.route("/json", methods=["GET", "POST"])
    def as_json() -> Any:
        return {"echo": NASTY_TEXT, NASTY_TEXT: NASTY}

    @app.route("/text")
    def as_text() -> Response:
        return Response(NASTY_TEXT, mimetype="text/plain")

    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("id_header", ["traceid", "X-Request-ID", "traceparent", "tracestate"])
def test_hostile_inbound_and_outbound_data_never_split_an_event_line(
    id_header: str,
    make_app: Callable[..., Flask],
    downstream: str,
    written_lines: WrittenLines,
) -> None:
    app = make_app("svc")

    @app.route("/hostile", methods=["POST"])
    def view() -> Any:
        traced.post(downstream + "/json", params={"q": NASTY_TEXT}, json={"k": NASTY_TEXT})
        traced.get(downstream + "/text")
        traced.add_event(NASTY_TEXT, {NASTY_TEXT: NASTY, "body": request.get_json()}, NASTY_TEXT)
        logging.getLogger(LOGGER_NAME).warning("user line %s", NASTY_TEXT)
        return {"ok": NASTY_TEXT}, 200, {"X-Echo": "a\x1b[31m\"b'"}

    nasty_value = "".join(NASTY)
    environ = {
        "HTTP_" + id_header.upper().replace("-", "_"): nasty_value,
        "HTTP_USER_AGENT": nasty_value,
        "HTTP_X_REAL_IP": nasty_value,
        "HTTP_X_CUSTOM": nasty_value,
    }
    client = app.test_client()
    query = "?q=%0A%1B%5B31m%00%22&token=%0Ax"
    body = {"a": NASTY_TEXT, "nested": [NASTY]}
    response = client.post("/hostile" + query, json=body, environ_base=environ)
    not_found = client.post("/p%0Aath%1B%5B31m%00/x%22y" + query, json=body, environ_base=environ)

    assert response.status_code == 200
    assert not_found.status_code == 404
    events = _assert_one_line_per_record(written_lines)
    kinds = [e.get("event_des") for e in events]
    assert kinds.count("start") == kinds.count("end") == 2
    assert kinds.count("call") == 2
    assert NASTY_TEXT in kinds  # the user's event name, kept whole but escaped
    starts = [e for e in events if e.get("event_des") == "start"]
    assert starts[0]["msg_dict"]["headers"]["User-Agent"] == nasty_value
    assert starts[1]["msg_dict"]["path"] == '/p\nath\x1b[31m\x00/x"y'


def test_hostile_text_in_a_call_error_and_a_trace_block_error_stays_on_one_line(
    written_lines: WrittenLines,
) -> None:
    with pytest.raises(ValueError), traced.trace(NASTY_TEXT):
        raise ValueError(NASTY_TEXT)
    try:
        traced.get("http://127.0.0.1:1/" + NASTY_TEXT.replace("\x00", ""), timeout=1)
    except Exception as exc:
        assert exc is not None
    _assert_one_line_per_record(written_lines)
