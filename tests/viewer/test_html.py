"""The HTML page: self-contained, every span drawn, and data can never become markup."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from viewer_logs import TRACE, Chain

from traced_http.viewer import build_tree
from traced_http.viewer.cli import main
from traced_http.viewer.render_html import render_html
from traced_http.viewer.trace import Trace, make_trace

EVIL_URL = 'http://evil.example/"><script>alert(1)</script><img src=x onerror=alert(2)>'
EVIL_HEADER = "</script><script src=https://evil.example/x.js></script><!--"


class Page(HTMLParser):
    """Every tag with its attributes, and the text inside each script element."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))
        else:
            self.text.append(data)


def hostile_trace(chain: Chain) -> Trace:
    events = [e for e in chain.events if e["traceid"] == TRACE]
    root = events[0]
    root["msg_dict"]["headers"]["X-Note"] = EVIL_HEADER
    call = next(e for e in events if e["event_des"] == "call")
    call["msg_dict"]["url"] = EVIL_URL
    user = next(e for e in events if e["event_des"] == "cache-miss")
    user["event_des"] = "<b onclick=alert(3)>bold</b>"
    return make_trace(TRACE, build_tree(events))


def test_page_is_self_contained_and_escapes_data(chain: Chain) -> None:
    trace = hostile_trace(chain)
    html = render_html(trace)
    page = Page(html)
    names = [tag for tag, _ in page.tags]
    assert names.count("script") == 2
    assert not {"img", "iframe", "link", "object", "embed", "b", "base"} & set(names)
    for _tag, attrs in page.tags:
        assert not [name for name in attrs if name.startswith("on")]
        for name in ("src", "href", "action"):
            assert name not in attrs
    assert not re.search(r"url\(\s*['\"]?https?:", html)
    # The injected strings are there, as text.
    assert EVIL_URL.split("/", 3)[-1] in "".join(page.text)
    _attrs, data_text = next(s for s in page.scripts if s[0].get("type"))
    details = json.loads(data_text)
    assert any(d["url"] == EVIL_URL for d in details)
    assert any(EVIL_HEADER in json.dumps(d["events"]) for d in details)


def test_script_is_allowed_by_the_page_policy_and_nothing_else_is(chain: Chain) -> None:
    page = Page(render_html(hostile_trace(chain)))
    policy = next(
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    )
    assert policy is not None and "default-src 'none'" in policy
    code = next(text for attrs, text in page.scripts if not attrs)
    digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy


def test_every_span_has_a_row_and_a_bar(chain: Chain) -> None:
    trace = make_trace(TRACE, build_tree(e for e in chain.events if e["traceid"] == TRACE))
    page = Page(render_html(trace))
    rows = [str(a["data-span-id"]) for t, a in page.tags if t == "tr" and "data-span-id" in a]
    assert sorted(rows) == sorted(n.span.span_id for n, _ in trace.nodes())
    bars = [a for t, a in page.tags if t == "div" and "bar" in (a.get("class") or "").split()]
    assert len(bars) == len(rows) == 7
    assert "failed" in (bars[-1].get("class") or "")


def test_cli_writes_the_page(logs: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "trace.html"
    assert main(["show", TRACE, "--format", "html", "-o", str(target), *map(str, logs)]) == 0
    html = target.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and TRACE in html


def test_page_shows_controls_visibly_and_survives_lone_surrogates() -> None:
    c = Chain()
    path = "/files/\u202etxt.exe\x1b[2J\ud800"
    c.request("gate\u2066way", "GET", path, trace="t", start=0, duration=0.1, status=500)
    html = render_html(make_trace("t", build_tree(c.events)))
    assert html.encode("utf-8")  # no lone surrogate left to break the file
    assert "\u202e" not in html and "\u2066" not in html and "\x1b" not in html
    page = Page(html)
    assert "GET /files/\\u202etxt.exe\\x1b[2J\ufffd" in "".join(page.text)
    _attrs, data_text = next(s for s in page.scripts if s[0].get("type"))
    assert json.loads(data_text)[0]["path"] == path  # the data itself is intact
