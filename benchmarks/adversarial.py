"""Adversarial inputs: the CPU tracing adds to one hostile request or answer, vs untraced.

python -m benchmarks.adversarial            # every input, about a minute on 2 cores
python -m benchmarks.adversarial --quick    # smoke run, a few seconds (not for numbers)

Each inbound input is sent straight into the WSGI app (no server, as in the inbound part),
to bare Flask and to the same app traced with the defaults; each outbound answer comes
from a canned transport, to a plain ``requests.Session`` and to a ``TracedSession``.
Every input stays within what a default gunicorn or Werkzeug server accepts (a request
line up to 4 KiB for gunicorn, 64 KiB for Werkzeug; up to 100 header fields of 8 KiB).
The long queries go to a path with no route (a 404), so that Werkzeug's own parsing of
the query in a view (26 ms for 62 KB) does not drown the figure. The table gives CPU µs
per request, the added µs (median of round-by-round differences) and the ratio; the
results go to benchmarks/results/local/adversarial.md (not tracked).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from io import BytesIO
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from benchmarks.apps import create_app
from benchmarks.config import Settings
from benchmarks.harness import Case, WsgiCall, discard_logger, run_interleaved
from benchmarks.report import Table, load_average, machine_lines, publish, ratio, us

TARGET_US = 1000.0  # the goal: under 1 ms added per request, whatever the input
_TOKEN = "token"

# name -> the WsgiCall arguments of one hostile request (path, method and the rest).
INBOUND: dict[str, dict[str, Any]] = {
    "plain GET (reference)": {"method": "GET", "path": "/hello", "query": {"name": "bench"}},
    "JSON nested 1,000 deep (2 KB)": {
        "method": "POST",
        "path": "/ingest",
        "data": b"[" * 1000 + b"]" * 1000,
        "content_type": "application/json",
    },
    "JSON nested 30 deep, then a long tail of brackets in a string": {
        "method": "POST",
        "path": "/ingest",
        "data": json.dumps([[[[{"s": "[" * 1900}]]]]).encode(),
        "content_type": "application/json",
    },
    "text/plain: 'token' x 400 (2 KB)": {
        "method": "POST",
        "path": "/ingest",
        "data": (_TOKEN * 400).encode(),
        "content_type": "text/plain",
    },
    "text/plain: 'token ' x 340": {
        "method": "POST",
        "path": "/ingest",
        "data": (_TOKEN + " ").encode() * 340,
        "content_type": "text/plain",
    },
    "text/plain: 'token=&' x 290 (290 secret fields)": {
        "method": "POST",
        "path": "/ingest",
        "data": b"token=&" * 290,
        "content_type": "text/plain",
    },
    "text/plain: '[token:' x 290": {
        "method": "POST",
        "path": "/ingest",
        "data": b"[token:" * 290,
        "content_type": "text/plain",
    },
    "text/plain: '\"token\": [' then 2,000 brackets": {
        "method": "POST",
        "path": "/ingest",
        "data": b'{"token": ' + b"[" * 2000,
        "content_type": "text/plain",
    },
    "text/plain: 'a://u@' x 330 (URLs with userinfo)": {
        "method": "POST",
        "path": "/ingest",
        "data": b"a://u@" * 330,
        "content_type": "text/plain",
    },
    "XML: '<token>' x 290": {
        "method": "POST",
        "path": "/ingest",
        "data": b"<token>" * 290,
        "content_type": "application/xml",
    },
    "XML: '<a:token>x' x 200": {
        "method": "POST",
        "path": "/ingest",
        "data": b"<a:token>x" * 200,
        "content_type": "application/xml",
    },
    "form over the limit: 'user%5Bpassword%5D=x&' x 400": {
        "method": "POST",
        "path": "/ingest",
        "data": b"user%5Bpassword%5D=x&" * 400,
        "content_type": "application/x-www-form-urlencoded",
    },
    "JSON in UTF-16, 2 KB of secret fields": {
        "method": "POST",
        "path": "/ingest",
        "data": json.dumps({f"token{i}": "x" for i in range(80)}).encode("utf-16"),
        "content_type": "application/json",
    },
    "Referer of 8 KB that URL parsing rejects": {
        "method": "GET",
        "path": "/hello",
        "headers": {"Referer": "http://[/?" + _TOKEN * 1600},
    },
    "query '?a&a&a...' (4 KB, gunicorn's line limit)": {
        "method": "GET",
        "path": "/unrouted",
        "query_string": "a&" * 2000,
    },
    "query '?a&a&a...' (62 KB, Werkzeug's line limit)": {
        "method": "GET",
        "path": "/unrouted",
        "query_string": "a&" * 31_000,
    },
    "query 'token=&' x 580 (4 KB)": {
        "method": "GET",
        "path": "/unrouted",
        "query_string": "token=&" * 580,
    },
    "path of 4 KB of non-ASCII characters": {
        "method": "GET",
        "path": "/hello/" + "\u00e9" * 2000,
    },
    "traceparent of a future version with a 5,000-character tail": {
        "method": "GET",
        "path": "/hello",
        "headers": {"traceparent": "01-" + "a" * 32 + "-" + "b" * 16 + "-01-" + "\x1b" * 5000},
    },
    "100 header fields of 8 KB": {
        "method": "GET",
        "path": "/hello",
        "headers": {f"X-Field-{i}": "v" * 8000 for i in range(99)},
    },
    "100 header fields of 8 KB with secret words in their names": {
        "method": "GET",
        "path": "/hello",
        "headers": {f"X-Token-{i}": "token=" * 1300 for i in range(99)},
    },
}

# name -> (Content-Type, body, extra headers, stream) of one hostile answer to a call.
OUTBOUND: dict[str, tuple[str, bytes, dict[str, str], bool]] = {
    "plain JSON answer (reference)": ("application/json", b'{"id": 42}', {}, False),
    "JSON answer nested 1,000 deep": (
        "application/json",
        b"[" * 1000 + b"]" * 1000,
        {},
        False,
    ),
    "text answer 'token=&' x 290": ("text/plain", b"token=&" * 290, {}, False),
    "JSON answer echoing 80 secret headers": (
        "application/json",
        json.dumps({"headers": {f"Authorization-{i}": "Bearer x" for i in range(80)}}).encode(),
        {},
        False,
    ),
    "streamed answer with 'Content-Length: ²'": (
        "text/plain",
        b"ok",
        {"Content-Length": "²"},
        True,
    ),
}


class _CannedAnswer(HTTPAdapter):
    """Answers every request with one response built in memory (set ``answer`` first)."""

    answer: tuple[str, bytes, dict[str, str]] = ("text/plain", b"", {})

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        content_type, body, headers = self.answer
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(
            {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}
        )
        response.raw = BytesIO(body)
        response.encoding = "utf-8"
        response.url = request.url or ""
        response.request = request
        response.connection = self
        return response


def _wsgi_call(app: Any, spec: dict[str, Any]) -> WsgiCall:
    spec = dict(spec)
    query_string = spec.pop("query_string", None)
    call = WsgiCall(app, spec.pop("method"), spec.pop("path"), **spec)
    if query_string is not None:
        call._environ["QUERY_STRING"] = query_string  # prebuilt as a server would pass it
    return call


def _outbound_cases(name: str) -> tuple[Case, Case]:
    import traced_http

    content_type, body, headers, stream = OUTBOUND[name]

    class CannedTracing(traced_http.TracingAdapter, _CannedAnswer):
        """The tracing adapter over the canned transport (its ``send`` calls ours)."""

    plain, traced = requests.Session(), traced_http.TracedSession()
    for session, adapter in ((plain, _CannedAnswer()), (traced, CannedTracing())):
        adapter.answer = (content_type, body, headers)
        session.mount("http://", adapter)
    url = "http://downstream.internal/x"

    def call(session: requests.Session) -> Callable[[], requests.Response]:
        def send() -> requests.Response:
            response = session.get(url, stream=stream)
            response.close()
            return response

        return send

    return Case("plain", call(plain)), Case("traced", call(traced))


def _row(name: str, timings: dict[str, Any]) -> tuple[list[str], float]:
    bare, traced = timings["plain"], timings["traced"]
    added = traced.minus(bare).median
    return [
        name,
        us(bare.median),
        us(traced.median),
        us(added),
        ratio(traced.median / bare.median),
    ], added


def run(settings: Settings) -> list[Table]:
    import traced_http

    discard_logger("traced_http", traced_http.JsonFormatter())
    bare, traced = create_app("bare"), create_app("traced")
    columns = ["input", "untraced µs", "traced µs", "added µs", "traced / untraced"]
    inbound = Table("Inbound: CPU µs per hostile request, straight into the WSGI app", columns)

    def measure(table: Table, name: str, cases: list[Case]) -> tuple[str, float]:
        """Add the row of one input; its name and the CPU tracing added."""
        timings = run_interleaved(
            cases, repeats=settings.repeats, batch_seconds=settings.batch_seconds
        )
        row, added = _row(name, timings)
        table.rows.append(row)
        return name, added

    results = [
        measure(
            inbound,
            name,
            [Case("plain", _wsgi_call(bare, spec)), Case("traced", _wsgi_call(traced, spec))],
        )
        for name, spec in INBOUND.items()
    ]
    outbound = Table("Outbound: CPU µs per call with a hostile answer (canned transport)", columns)
    results += [measure(outbound, name, list(_outbound_cases(name))) for name in OUTBOUND]
    worst = max(
        [("", 0.0), *(row for row in results if "reference" not in row[0])], key=lambda row: row[1]
    )
    verdict = "within" if worst[1] < TARGET_US else "OVER"
    note = (
        f"worst added CPU: {worst[1]:.0f} µs per request ({worst[0]}), {verdict} the "
        f"{TARGET_US:.0f} µs target; median of {settings.repeats} interleaved batches"
    )
    inbound.notes.append(note)
    return [inbound, outbound]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.adversarial", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (not for numbers)")
    args = parser.parse_args(argv)
    settings = Settings.quick() if args.quick else Settings()
    started, load = time.monotonic(), load_average()
    tables = run(settings)
    lines = ["## Adversarial inputs", "", "Command: `python -m benchmarks.adversarial`", ""]
    lines += [*machine_lines(), f"- load average (1 min) at start → end: {load} → {load_average()}"]
    for table in tables:
        lines += ["", table.to_markdown()]
    text = "\n".join(lines) + f"\n\nTotal time: {time.monotonic() - started:.0f} s\n"
    publish(text, "adversarial.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
