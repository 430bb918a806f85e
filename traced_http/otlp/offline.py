"""``traced-http export --otlp URL FILES...``: ship existing event logs to a backend.

Reads the inputs with the viewer's reader (files, globs, gzip, standard input), turns the
events into the same spans live export makes, and sends them in batches through
OpenTelemetry's OTLP/HTTP exporter (its retries, gzip and ``OTEL_EXPORTER_OTLP_HEADERS``
included). A progress line on a terminal, a summary at the end; the exit status is 1 when
any span could not be delivered. OpenTelemetry is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, TextIO

from traced_http.otlp.endpoint import traces_url
from traced_http.viewer.progress import Progress
from traced_http.viewer.reader import ReadCounts, expand_inputs, input_size, read_events

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["add_export_parser", "run_export"]

BATCH_SIZE = 512


def add_export_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``export`` command to the ``traced-http`` command's subparsers."""
    export = commands.add_parser(
        "export",
        parents=[common],
        help="send the traces of event logs to an OpenTelemetry backend over OTLP/HTTP",
    )
    export.add_argument(
        "--otlp",
        required=True,
        metavar="URL",
        type=_base_url,
        help="the backend's OTLP/HTTP base URL; /v1/traces is appended "
        "(Jaeger or a Collector: http://localhost:4318)",
    )
    export.add_argument(
        "--batch-size", type=int, default=BATCH_SIZE, metavar="N", help="spans per request"
    )
    export.add_argument(
        "inputs",
        nargs="*",
        metavar="FILE",
        help="event logs: files, globs, .gz files, or - for standard input (the default)",
    )


def _base_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"not an http:// or https:// URL: {text}")
    return text


class _Totals:
    """What was sent: spans delivered and failed, and the traces they belong to."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.traces: set[int] = set()

    def progress_tail(self) -> str:
        """The end of the progress line: spans sent so far, and failed ones if any."""
        line = f", {self.delivered:,} spans sent"
        if self.failed:
            line += f", {self.failed:,} failed"
        return line


def run_export(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    """Run ``export``; 0 when every span was delivered, 1 otherwise."""
    try:
        from opentelemetry.sdk.trace.export import SpanExportResult

        from traced_http.otlp.endpoint import make_exporter
        from traced_http.otlp.spans import SpanAssembler
    except ImportError:
        sys.stderr.write(
            "traced-http: export needs the otlp extra: pip install 'traced-http[otlp]'\n"
        )
        return 1
    inputs: list[str] = args.inputs or ["-"]
    if inputs == ["-"] and sys.stdin.isatty():
        sys.stderr.write("traced-http: no input: give log files or globs, or pipe the logs in\n")
        return 1
    paths = expand_inputs(inputs)
    url = traces_url(args.otlp)
    exporter = make_exporter(url)
    totals = _Totals()
    progress = (
        Progress(sys.stderr, input_size(paths), activity="exporting", suffix=totals.progress_tail)
        if sys.stderr.isatty()
        else None
    )
    assembler = SpanAssembler(max_open=1 << 20)
    batch: list[ReadableSpan] = []
    size = max(1, args.batch_size)

    def send() -> None:
        ok = exporter.export(batch) is SpanExportResult.SUCCESS
        if ok:
            totals.delivered += len(batch)
            totals.traces.update(span.context.trace_id for span in batch if span.context)
        else:
            totals.failed += len(batch)
        batch.clear()

    try:
        for event in read_events(paths, counts, progress=progress):
            span = assembler.add(event)
            if span is not None:
                batch.append(span)
                if len(batch) >= size:
                    send()
        batch.extend(assembler.unfinished())
        while batch:
            rest = batch[size:]
            del batch[size:]
            send()
            batch.extend(rest)
    finally:
        if progress is not None:
            progress.finish()
        exporter.shutdown()
    out.write(_summary(totals, assembler.dropped, url) + "\n")
    return 1 if totals.failed else 0


def _summary(totals: _Totals, incomplete: int, url: str) -> str:
    line = f"exported {totals.delivered:,} spans of {len(totals.traces):,} traces to {url}"
    if totals.failed:
        line += f"; {totals.failed:,} spans could not be delivered"
    if incomplete:
        line += f"; {incomplete:,} requests started but never ended in these logs (not sent)"
    return line
