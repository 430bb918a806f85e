"""`traced-http serve`: a local web UI over log files, built on the standard library.

Three pages: the trace list with filters, one trace's waterfall (the page `show --format
html` writes), and per-route stats with a small chart. The pages run no script but the
waterfall's (allowed by hash), fetch nothing, and escape every string from the logs.
The server binds to 127.0.0.1 unless told otherwise and answers only requests addressed
to that name, so a web page elsewhere cannot read the logs through DNS rebinding.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import sys
import threading
import time
import webbrowser
from dataclasses import asdict
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

from traced_http.viewer.index import LogIndex
from traced_http.viewer.reader import InputError, expand_inputs
from traced_http.viewer.render_html import (
    asset,
    colour_class,
    html_page,
    page_policy,
    render_html,
    safe,
)
from traced_http.viewer.stats import RouteStats
from traced_http.viewer.summary import TraceSummary
from traced_http.viewer.times import format_ms, format_time, parse_when
from traced_http.viewer.trace import make_trace
from traced_http.viewer.tree import build_tree

LIST_LIMIT = 200
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


# -- pages ----------------------------------------------------------------------------------


def _page(title: str, body: str, status_line: str) -> str:
    return html_page(
        title,
        f"""<header><h1>traced-http</h1><div class="facts"><span><a href="/">traces</a></span>
<span><a href="/stats">route stats</a></span><span id="status">{status_line}</span></div></header>
{body}""",
    )


def _status_line(index: LogIndex) -> str:
    status = index.status()
    line = (
        f"{status.traces:,} traces · {status.events:,} events · {status.files} "
        f"file{'s' * (status.files != 1)}"
    )
    if status.skipped:
        line += f" · {status.skipped:,} lines skipped"
    if status.loading:
        line += " · reading…"
    return escape(line)


class Filters:
    """The list's filters, read from the query string; a bad value is reported, not fatal."""

    def __init__(self, query: dict[str, list[str]]) -> None:
        def one(name: str) -> str:
            return (query.get(name) or [""])[0].strip()

        self.service = one("service")
        self.route = one("route")
        self.status = one("status")
        self.slower = one("slower")
        self.since = one("since")
        self.text = one("q")
        self.problems: list[str] = []
        self.slower_ms: float | None = None
        self.since_epoch: float | None = None
        if self.slower:
            try:
                self.slower_ms = float(self.slower)
            except ValueError:
                self.problems.append("slower than: give a number of milliseconds")
            if self.slower_ms is not None and not math.isfinite(self.slower_ms):
                self.slower_ms = None
                self.problems.append("slower than: give a number of milliseconds")
        if self.since:
            try:
                self.since_epoch = parse_when(self.since)
            except ValueError as exc:
                self.problems.append(f"since: {exc}")

    def status_matches(self, summary: TraceSummary) -> bool:
        wanted = self.status
        if not wanted:
            return True
        if wanted == "failed":
            return summary.error
        if wanted == "ok":
            return not summary.error
        code = summary.root_status
        if len(wanted) == 3 and wanted.endswith("xx"):
            return code is not None and str(code)[0] == wanted[0]
        return code is not None and str(code) == wanted


def _select(index: LogIndex, filters: Filters) -> tuple[list[TraceSummary], int]:
    """The traces the filters keep, newest first, at most `LIST_LIMIT`; and how many matched."""
    found = index.search(filters.text) if filters.text else None
    with index.lock:
        mask = index.summaries.service_mask([filters.service]) if filters.service else 0
        route_bit = index.route_bit.get(filters.route, 0) if filters.route else 0
        if (filters.service and not mask) or (filters.route and not route_bit):
            return [], 0
        routes = index.trace_routes
        kept = []
        for summary in index.summaries.traces.values():
            if mask and not summary.service_bits & mask:
                continue
            if route_bit and not routes.get(summary.trace_id, 0) & route_bit:
                continue
            if found is not None and summary.trace_id not in found:
                continue
            if not filters.status_matches(summary):
                continue
            if filters.slower_ms is not None:
                duration = summary.duration
                if duration is None or duration * 1000 <= filters.slower_ms:
                    continue
            if filters.since_epoch is not None:
                start = summary.start
                if start is None or start < filters.since_epoch:
                    continue
            kept.append(summary)
    kept.sort(key=lambda s: (s.start is not None, s.start or 0.0), reverse=True)
    return kept[:LIST_LIMIT], len(kept)


def _options(values: list[str], chosen: str, empty: str) -> str:
    items = [f'<option value="">{escape(empty)}</option>']
    for value in values:
        selected = " selected" if value == chosen else ""
        items.append(f'<option value="{safe(value)}"{selected}>{safe(value)}</option>')
    return "".join(items)


def list_page(index: LogIndex, query: dict[str, list[str]]) -> str:
    """The trace list and its filter form."""
    filters = Filters(query)
    with index.lock:
        services = sorted(index.services)
        routes = sorted(index.route_bit)
    statuses = [("", "any status"), ("failed", "failed"), ("ok", "not failed")]
    statuses += [(c, c) for c in ("2xx", "3xx", "4xx", "5xx")]
    status_options = "".join(
        f'<option value="{v}"{" selected" * (v == filters.status)}>{label}</option>'
        for v, label in statuses
    )
    if filters.status not in {v for v, _ in statuses}:
        status_options += (
            f'<option value="{safe(filters.status)}" selected>{safe(filters.status)}</option>'
        )
    form = (
        '<form class="toolbar" method="get" action="/" id="filters">'
        f'<select name="service" aria-label="service">'
        f"{_options(services, filters.service, 'all services')}</select>"
        f'<select name="route" aria-label="route">{_options(routes, filters.route, "all routes")}'
        "</select>"
        f'<select name="status" aria-label="status">{status_options}</select>'
        '<label>slower than <input type="text" name="slower" size="6" '
        f'value="{safe(filters.slower)}"'
        ' aria-label="slower than (ms)"> ms</label>'
        f'<label>since <input type="text" name="since" size="18" value="{safe(filters.since)}"'
        ' placeholder="15m, 2h, ISO time" aria-label="since"></label>'
        f'<input type="search" name="q" size="24" value="{safe(filters.text)}" '
        'placeholder="text in the log lines" aria-label="text">'
        '<button type="submit">filter</button> <a href="/">clear</a></form>'
    )
    problems = "".join(f'<p class="err">{safe(p)}</p>' for p in filters.problems)
    shown: list[TraceSummary] = []
    total = 0
    if not filters.problems:
        shown, total = _select(index, filters)
    rows = []
    for summary in shown:
        link = "/trace?" + urlencode({"id": summary.trace_id})
        outcome = '<span class="err">failed</span>' if summary.error else ""
        status = "" if summary.root_status is None else str(summary.root_status)
        rows.append(
            "<tr>"
            f"<td>{escape(format_time(summary.start))}</td>"
            f'<td class="id"><a href="{escape(link)}">{safe(summary.trace_id)}</a></td>'
            f'<td class="what">{safe(summary.root_label)}</td>'
            f'<td class="num">{escape(status)}</td>'
            f'<td class="num">{escape(format_ms(summary.duration))}</td>'
            f'<td class="num">{summary.span_count}</td>'
            f'<td class="num">{summary.service_count}</td>'
            f"<td>{outcome}</td></tr>"
        )
    more = f" (the newest {LIST_LIMIT} shown)" if total > len(shown) else ""
    body = (
        f'{form}<main>{problems}<p id="matched">{total:,} trace{"s" * (total != 1)} '
        f"match{more}</p>"
        '<table id="traces"><thead><tr><th>start (UTC)</th><th>trace id</th><th>root</th>'
        '<th class="num">status</th><th class="num">duration</th><th class="num">spans</th>'
        '<th class="num">services</th><th></th></tr></thead><tbody>'
        + "".join(rows)
        + "</tbody></table></main>"
    )
    return _page("traces · traced-http", body, _status_line(index))


def _chart(row: RouteStats) -> str:
    """A small histogram of durations on a log scale, with p50/p95/p99 ticks."""
    durations = row.durations
    if not durations:
        return ""
    width, height, bins = 160, 28, 32
    low = max(durations[0], 1e-6)
    high = max(durations[-1], low * 1.0001)
    span = math.log(high / low)
    counts = [0] * bins
    for value in durations:
        place = math.log(max(value, low) / low) / span * bins if span > 0 else 0
        counts[min(bins - 1, int(place))] += 1
    top = max(counts)
    bars = []
    for n, count in enumerate(counts):
        if count:
            h = max(1.0, count / top * (height - 4))
            bars.append(
                f'<rect x="{n * width / bins:.1f}" y="{height - h:.1f}" '
                f'width="{width / bins - 1:.1f}" height="{h:.1f}"></rect>'
            )
    ticks = []
    for share, colour in ((0.5, "#1a7f37"), (0.95, "#bf8700"), (0.99, "#cf222e")):
        value = row.percentile(share) or low
        x = math.log(max(value, low) / low) / span * width if span > 0 else 0
        ticks.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="{colour}"'
            ' stroke-width="1.5"></line>'
        )
    label = (
        f"durations from {format_ms(durations[0])} to {format_ms(durations[-1])} (log scale);"
        " lines at p50, p95, p99"
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        + "".join(bars)
        + "".join(ticks)
        + "</svg>"
    )


def stats_page(index: LogIndex) -> str:
    """Per service and route: count, error rate, p50/p95/p99 and a chart.

    The table is kept until new events arrive: sorting every route's durations is the cost.
    """
    events = index.status().events
    cached = index.page_cache.get("stats")
    if cached is not None and cached[0] == events:
        return _page("route stats · traced-http", cached[1], _status_line(index))
    body = _stats_table(index)
    index.page_cache["stats"] = (events, body)
    return _page("route stats · traced-http", body, _status_line(index))


def _stats_table(index: LogIndex) -> str:
    with index.lock:
        rows = index.stats.rows()
        services = [row.service for row in rows]
        cells = []
        for row in rows:
            link = "/?" + urlencode({"service": row.service, "route": row.route})
            cells.append(
                "<tr>"
                f'<td><span class="swatch {colour_class(services, row.service)}"></span>'
                f"{safe(row.service)}</td>"
                f'<td class="what"><a href="{escape(link)}">{safe(row.route)}</a></td>'
                f'<td class="num">{row.count:,}</td>'
                f'<td class="num">{row.error_rate * 100:.1f}%</td>'
                f'<td class="num">{escape(format_ms(row.percentile(0.50)))}</td>'
                f'<td class="num">{escape(format_ms(row.percentile(0.95)))}</td>'
                f'<td class="num">{escape(format_ms(row.percentile(0.99)))}</td>'
                f"<td>{_chart(row)}</td></tr>"
            )
    return (
        '<main><table id="stats"><thead><tr><th>service</th><th>route</th>'
        '<th class="num">count</th><th class="num">errors</th><th class="num">p50</th>'
        '<th class="num">p95</th><th class="num">p99</th><th>durations</th></tr></thead>'
        "<tbody>" + "".join(cells) + "</tbody></table>"
        '<p class="muted">Routes group paths by shape: numeric, hex and UUID segments become'
        " {id}. A route links to the traces that went through it.</p></main>"
    )


def trace_page(index: LogIndex, trace_id: str) -> str | None:
    """The waterfall of one trace, or None when the index does not know it."""
    events = index.events_of(trace_id)
    if not events:
        return None
    return render_html(make_trace(trace_id, build_tree(events)), back_href="/")


# -- server ---------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the terminal shows the URL, not an access log."""

    def _send(self, status: int, body: str, content_type: str = "text/html") -> None:
        data = body.encode("utf-8", "replace")
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        policy = page_policy((asset("waterfall.js"),)) + "; frame-ancestors 'none'"
        self.send_header("Content-Security-Policy", policy)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _host_allowed(self) -> bool:
        if not self.server.loopback_only:
            return True
        host = (self.headers.get("Host") or "").strip().lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        if not self._host_allowed():
            self._send(403, "Forbidden: this UI answers only on its local address.", "text/plain")
            return
        url = urlsplit(self.path)
        try:
            query = parse_qs(url.query, max_num_fields=32)
        except ValueError:
            self._send(400, "Bad request: too many query fields.", "text/plain")
            return
        index = self.server.index
        try:
            if url.path == "/":
                self._send(200, list_page(index, query))
            elif url.path == "/stats":
                self._send(200, stats_page(index))
            elif url.path == "/trace":
                trace_id = (query.get("id") or [""])[0]
                page = trace_page(index, trace_id) if trace_id else None
                if page is None:
                    self._send(404, _page("not found", "<main>No such trace.</main>", ""))
                else:
                    self._send(200, page)
            elif url.path == "/api/status":
                self._send(200, json.dumps(asdict(index.status())), "application/json")
            else:
                self._send(404, _page("not found", "<main>No such page.</main>", ""))
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], index: LogIndex, loopback_only: bool) -> None:
        self.index = index
        self.loopback_only = loopback_only
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)


def make_server(index: LogIndex, host: str = "127.0.0.1", port: int = 0) -> _Server:
    """A server for `index` bound to host:port (port 0: a free one); call serve_forever."""
    return _Server((host, port), index, loopback_only=host in LOOPBACK)


def url_of(server: _Server) -> str:
    """The address to open in a browser."""
    host, port = server.server_address[:2]
    name = host.decode("ascii") if isinstance(host, bytes) else str(host)
    shown = f"[{name}]" if ":" in name else name
    if shown in ("0.0.0.0", "[::]"):
        shown = "127.0.0.1"
    return f"http://{shown}:{port}/"


def run(args: argparse.Namespace, out: TextIO) -> int:
    """Serve until interrupted; returns the exit status."""
    inputs: list[str] = args.inputs or ["-"]
    if inputs == ["-"] and sys.stdin.isatty():
        sys.stderr.write("traced-http: no input: give log files or folders, or pipe the logs in\n")
        return 1
    try:
        inputs = expand_inputs(inputs)
    except InputError as exc:
        sys.stderr.write(f"traced-http: {exc}\n")
        return 1
    missing = [path for path in inputs if path != "-" and not os.path.exists(path)]
    if missing:
        sys.stderr.write(f"traced-http: cannot read {missing[0]}: no such file or folder\n")
        return 1
    index = LogIndex(inputs)
    try:
        server = make_server(index, args.host, args.port)
    except OSError as exc:
        sys.stderr.write(f"traced-http: cannot listen on {args.host}:{args.port}: {exc}\n")
        return 1
    index.start()
    url = url_of(server)
    out.write(f"traced-http serve: {url} (Ctrl-C to stop)\n")
    out.flush()
    if args.open:
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    if not args.quiet:
        threading.Thread(
            target=_report_loaded, args=(index, started), daemon=True, name="loaded"
        ).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        index.stop()
    return 0


def _interrupt(_signal: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _report_loaded(index: LogIndex, started: float) -> None:
    index.wait_loaded()
    status = index.status()
    sys.stderr.write(
        f"traced-http serve: read {status.events:,} events of {status.traces:,} traces "
        f"in {time.monotonic() - started:.1f} s; following the files for more\n"
    )
    sys.stderr.flush()
