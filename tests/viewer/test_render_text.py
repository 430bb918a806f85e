"""Text rendering of spans the logs only partly describe, and of very deep chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viewer_logs import Chain, write_log

from traced_http.viewer import build_tree
from traced_http.viewer.cli import main
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.style import Style
from traced_http.viewer.trace import make_trace


def test_unfinished_span_and_span_known_only_from_events() -> None:
    c = Chain()
    root = c.request("gateway", "GET", "/slow", trace="t", start=0.0, duration=1.0)
    still_running = c.request(
        "orders", "GET", "/hang", trace="t", start=0.5, duration=0.1, parent=root
    )
    c.events = [
        e for e in c.events if not (e["span_id"] == still_running and e["event_des"] == "end")
    ]
    c.event("billing", "charged", trace="t", span=c.new_id(), parent=root, at=0.7)
    text = render_trace(make_trace("t", build_tree(c.events)), Style(False))
    lines = text.splitlines()
    hang = next(line for line in lines if "GET /hang" in line)
    assert "no end" in hang and hang.endswith("░") and "█" not in hang
    events_only = next(line for line in lines if "span (only events seen)" in line)
    assert events_only.startswith("billing")
    assert any("• charged" in line and line.endswith("◆") for line in lines)


def test_deep_chain_renders_and_json_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = Chain()
    parent = None
    for depth in range(3000):
        parent = c.request(
            "svc",
            "GET",
            f"/{depth}",
            trace="d" * 32,
            start=depth * 1e-4,
            duration=1.0 - depth * 2e-4,
            parent=parent,
        )
    (root,) = build_tree(c.events)
    assert sum(1 for _ in root.walk()) == 3000
    log = write_log(tmp_path / "deep.log", c.lines())
    assert main(["show", "d" * 32, str(log)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3002
    assert (
        main(["show", "d" * 32, "--format", "html", "-o", str(tmp_path / "d.html"), str(log)]) == 0
    )
    # Nesting this deep exceeds what json can write on most Pythons: an error, not a crash.
    status = main(["show", "d" * 32, "--format", "json", str(log)])
    captured = capsys.readouterr()
    if status == 0:
        assert json.loads(captured.out)["span_count"] == 3000
    else:
        assert status == 1 and "nests spans too deeply" in captured.err


def test_root_cause_in_the_header_and_on_its_row() -> None:
    c = Chain()
    root = c.request("gateway", "POST", "/pay", trace="t", start=0, duration=0.3, status=502)
    c.declined_charge("gateway", trace="t", parent=root, start=0.01)
    header, _columns, *rows = render_trace(
        make_trace("t", build_tree(c.events)), Style(False)
    ).splitlines()
    assert header.endswith(" · root cause: billing: RuntimeError: card declined")
    assert "POST /charge [root cause]" in rows[2]
    assert "POST /pay [failed downstream]" in rows[0]
    assert rows[1].endswith("gap 50.0 ms")  # the call took 200 ms, billing 150 ms


@pytest.mark.parametrize(
    ("first", "second", "duration"),
    [
        (-1e308, 1e308, 1.0),  # finite times whose distance is not
        (1.5e308, 1.5e308, 1e308),  # a start plus a duration past the largest float
    ],
)
def test_times_far_apart_still_draw(first: float, second: float, duration: float) -> None:
    c = Chain()
    root = c.request("gateway", "GET", "/a", trace="t", start=0.0, duration=1.0)
    c.request("orders", "GET", "/b", trace="t", start=0.0, duration=1.0, parent=root)
    for event in c.events:
        msg = event["msg_dict"]
        start = first if event["span_id"] == root else second
        msg["start_time"] = start
        if event["event_des"] == "end":
            msg["cost_time"] = duration if event["span_id"] == root else 1.0
            msg["end_time"] = min(start + msg["cost_time"], 1e308)
    text = render_trace(make_trace("t", build_tree(c.events)), Style(False))
    rows = text.splitlines()[2:]
    assert [row.split()[0] for row in rows] == ["gateway", "orders"]
    assert all({"█", "░"} & set(row) for row in rows)  # every span has its bar
