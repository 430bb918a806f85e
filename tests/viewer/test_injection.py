"""Log data never drives the terminal: escapes and controls in it are printed visibly."""

from __future__ import annotations

import re

import pytest
from viewer_logs import Chain

from traced_http.viewer import build_tree
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.sanitize import clean
from traced_http.viewer.stats import Stats
from traced_http.viewer.style import Style
from traced_http.viewer.summary import Summaries
from traced_http.viewer.tables import render_list, render_stats
from traced_http.viewer.trace import make_trace

OURS = re.compile(r"\x1b\[[0-9;]*m")  # the colour codes the viewer itself writes
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain /path?q=1", "plain /path?q=1"),
        ("\x1b[2Jcleared", "\\x1b[2Jcleared"),
        ("bell\x07 nul\x00 del\x7f csi\x9b", "bell\\x07 nul\\x00 del\\x7f csi\\x9b"),
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),
        ("line\nbreak\r", "line\\x0abreak\\x0d"),
    ],
)
def test_clean(raw: str, shown: str) -> None:
    assert clean(raw) == shown


def hostile_chain() -> Chain:
    c = Chain()
    trace = "e" * 32
    root = c.request(
        "gate\x1b[31mway",
        "GET",
        "/\x1b]0;pwned\x07x\u202e",
        trace=trace,
        start=0,
        duration=0.2,
        status=500,
        error={"type": "Boom\x1b[2J", "message": "line1\nline2\x1b[0m"},
    )
    c.call(
        "gateway",
        "GET",
        "http://h/\x1b[1A\x1b[2K",
        trace=trace,
        parent=root,
        start=0.01,
        duration=0.05,
    )
    c.event("gateway", "evt\x1b[5m", trace=trace, span=root, parent=None, at=0.02)
    return c


def test_show_list_and_stats_print_no_raw_control_characters() -> None:
    c = hostile_chain()
    trace = make_trace("e" * 32, build_tree(c.events))
    summaries = Summaries()
    summaries.add_all(c.events)
    stats = Stats()
    stats.add_all(c.events)
    for colour in (False, True):
        style = Style(colour)
        outputs = [
            render_trace(trace, style),
            "\n".join(render_list(list(summaries.traces.values()), style)),
            render_stats(stats.rows(), style),
        ]
        for output in outputs:
            without_ours = OURS.sub("", output)
            assert "\x1b" not in without_ours
            assert UNSAFE.search(without_ours) is None
    text = render_trace(trace, Style(False))
    assert "\\x1b]0;pwned\\x07" in text and "\\u202e" in text  # shown, not obeyed
    assert "Boom\\x1b[2J: line1\\x0aline2" in text
