"""The demo: a chain of two services on 127.0.0.1, traced, and the trace drawn.

Starts ``hello`` and ``gateway`` on real threaded WSGI servers on free ports, sends the
recipe's two requests (GET ``/test?name=...`` and POST ``/test2``), prints one event
as the JSON the log holds, then every event as one short line, then each trace rebuilt
as a tree with timings. The servers are stopped before it exits; it can run twice in a
row, whatever ports are taken.

    python examples/demo.py
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.services import create_gateway, create_hello
from traced_http.testing import capture_events, serve_app
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.style import Style, colour_wanted
from traced_http.viewer.trace import make_trace
from traced_http.viewer.tree import build_tree

SHORT_HEADER = (
    f"{'TRACE':<8}  {'#':>2}  {'SERVICE':<8} {'EVENT':<14} {'SPAN':<16}  {'PARENT':<16}  WHAT"
)


def short_line(event: dict[str, Any]) -> str:
    """The fields that make the chain, in the columns of ``SHORT_HEADER``."""
    msg = event.get("msg_dict") or {}
    if event["event_des"] in ("start", "call"):
        what = f"{msg.get('method')} {msg.get('url')}"
        if "status_code" in msg:
            what += f" -> {msg['status_code']}"
    elif event["event_des"] == "end":
        what = f"-> {msg.get('status_code')} in {msg.get('cost_time', 0) * 1000:.2f} ms"
    else:
        what = json.dumps(msg)
    parent = event["parent_id"] or "-"
    return (
        f"{event['traceid'][:8]}  {event['trace_index']:>2}  {event['service']:<8} "
        f"{event['event_des']:<14} {event['span_id']}  {parent:<16}  {what}"
    )


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines
    logging.getLogger("traced_http").addHandler(logging.NullHandler())  # printed below
    with ExitStack() as stack:
        events = stack.enter_context(capture_events())
        hello_url = stack.enter_context(serve_app(create_hello()))
        gateway_url = stack.enter_context(serve_app(create_gateway(hello_url)))
        print(f"gateway on {gateway_url}, hello on {hello_url}\n")
        answers = [
            requests.get(f"{gateway_url}/test", params={"name": "yetangjian"}, timeout=10),
            requests.post(f"{gateway_url}/test2", json={"name": "yetangjian"}, timeout=10),
        ]
    for answer in answers:
        print(f"{answer.request.method} {answer.url} -> {answer.status_code} {answer.text!r}")
        print(f"  traceid header: {answer.headers.get('traceid')}")
    print("\nOne event, as the log holds it (one JSON object per line; indented here):")
    print(json.dumps(events[0], indent=2))
    print(f"\nAll {len(events)} events, one short line each:")
    print(SHORT_HEADER)
    for event in events:
        print(short_line(event))
    style = Style(colour_wanted(sys.stdout, disabled=False))
    for answer in answers:
        trace_id = answer.headers["traceid"]
        trace_events = [e for e in events if e["traceid"] == trace_id]
        print()
        print(render_trace(make_trace(trace_id, build_tree(trace_events)), style))
    return 0 if all(a.ok for a in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
