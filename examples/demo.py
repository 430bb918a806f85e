"""The demo: a chain of two services on 127.0.0.1, traced, and the trace drawn.

Starts ``hello`` and ``gateway`` on real threaded WSGI servers on free ports, sends the
recipe's two requests (GET ``/test?name=...`` and POST ``/test2``), prints every event
as the JSON line the log holds, then each trace rebuilt as a tree with timings. The
servers are stopped before it exits; it can run twice in a row, whatever ports are taken.

    python examples/demo.py
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import ExitStack
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.services import create_gateway, create_hello
from traced_http.testing import capture_events, serve_app
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.style import Style, colour_wanted
from traced_http.viewer.trace import make_trace
from traced_http.viewer.tree import build_tree


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
    print("\nThe event lines, as the services log them:")
    for event in events:
        print(json.dumps(event))
    style = Style(colour_wanted(sys.stdout, disabled=False))
    for answer in answers:
        trace_id = answer.headers["traceid"]
        trace_events = [e for e in events if e["traceid"] == trace_id]
        print()
        print(render_trace(make_trace(trace_id, build_tree(trace_events)), style))
    return 0 if all(a.ok for a in answers) else 1


if __name__ == "__main__":
    sys.exit(main())
