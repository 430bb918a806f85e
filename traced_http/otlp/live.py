"""Live export: a ``logging.Handler`` on the ``traced_http`` logger that ships spans.

The handler receives the same event dicts the JSON lines are made from, so the export
says exactly what the log says. On the request thread it only appends the event to a
bounded queue (a ``deque``: no lock); one worker thread per process turns events into
spans (``spans.SpanAssembler``), batches them and hands each batch to OpenTelemetry's
OTLP exporter, which does the wire format, retries with backoff, gzip and timeouts.

Never slows or breaks the service: when the queue is full (the backend down or slow, the
worker busy retrying), events are dropped and counted, and the counts are reported on
``traced_http.internal`` at most every few minutes. The queue is flushed at interpreter
exit and on SIGTERM (chained to the handler that was there before); a process forked
after start (gunicorn's workers) gets a fresh queue, worker and exporter of its own.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Optional, Union

from traced_http.log_format import LOGGER_NAME, EventMessage

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["ExportStats", "LiveExport", "active_exports", "start_export"]

QUEUE_SIZE = 4096
BATCH_SIZE = 512
INTERVAL = 1.0
EXIT_FLUSH_TIMEOUT = 5.0
REPORT_EVERY = 300.0

_internal = logging.getLogger(LOGGER_NAME + ".internal")
_SignalHandler = Union[Callable[[int, Optional[FrameType]], Any], int, None]


@dataclass(frozen=True)
class ExportStats:
    """What a live export did since it started (in this process)."""

    exported: int
    """Spans the backend accepted."""
    failed: int
    """Spans the exporter could not deliver (after its own retries)."""
    dropped_events: int
    """Events never turned into spans: the queue was full."""
    unfinished: int
    """Spans pushed out before their end came (more open spans than the bound)."""


class LiveExport(logging.Handler):
    """Turns the events of this process into spans exported to ``url`` (a traces URL).

    Use ``start_export`` (or ``Tracing(app, otlp_endpoint=...)``) rather than building
    one: it attaches the handler and the exit hooks once per URL.
    """

    def __init__(
        self,
        url: str,
        *,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        interval: float = INTERVAL,
        exporter_factory: Callable[[str], SpanExporter] | None = None,
    ) -> None:
        super().__init__(logging.INFO)
        self.url = url
        self.queue_size = queue_size
        self.batch_size = batch_size
        self.interval = interval
        if exporter_factory is None:
            from traced_http.otlp.endpoint import make_exporter

            exporter_factory = make_exporter
        self._factory = exporter_factory
        _preload()
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at start, and in a forked child (the parent's worker did not follow)."""
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = threading.Event()
        self._done = threading.Condition()
        self._start_lock = threading.Lock()
        self._drop_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._flush_wanted = 0
        self._flushed = 0
        self._dropped = 0
        self._exported = 0
        self._failed = 0
        self._unfinished = 0
        self._reported = (0, 0, 0)
        self._last_report = -REPORT_EVERY
        self._exporter = self._make_exporter()

    # -- the request thread: append, nothing more ------------------------------------

    def handle(self, record: logging.LogRecord) -> bool:
        """Queue the event of ``record`` (other records are not events: ignored)."""
        msg = record.msg
        if type(msg) is EventMessage:
            if len(self._queue) < self.queue_size:
                self._queue.append(msg.event)
            else:
                with self._drop_lock:
                    self._dropped += 1
            if self._thread is None:
                self._start()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._stopping:
                return
            thread = threading.Thread(target=self._run, name="traced-http-otlp", daemon=True)
            thread.start()
            self._thread = thread

    # -- the worker -------------------------------------------------------------------

    def _make_exporter(self) -> SpanExporter | None:
        """Built on the thread that starts export (or the forked child's), never the worker:
        the worker may first run during interpreter shutdown, when imports fail."""
        try:
            return self._factory(self.url)
        except Exception:
            _internal.exception("traced_http: the OTLP exporter for %s could not start", self.url)
            return None

    def _run(self) -> None:
        exporter = self._exporter
        from traced_http.otlp.spans import SpanAssembler

        self._assembler = SpanAssembler()
        self._batch: list[ReadableSpan] = []
        self._last_export = time.monotonic()
        failing_since = -REPORT_EVERY
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._done:
                wanted = self._flush_wanted
                stopping = self._stopping
            try:
                self._pass(exporter, bool(wanted > self._flushed or stopping))
            except Exception:  # the worker must outlive any bad event or exporter bug
                if time.monotonic() - failing_since >= REPORT_EVERY:
                    failing_since = time.monotonic()
                    _internal.exception("traced_http: OTLP export failed; it goes on")
            with self._done:
                self._flushed = wanted
                self._done.notify_all()
            if stopping:
                break
        if exporter is not None:
            exporter.shutdown()

    def _pass(self, exporter: SpanExporter | None, flushing: bool) -> None:
        """Turn every queued event into spans; export full batches, and the rest when due."""
        queue = self._queue
        assembler = self._assembler
        while queue:
            span = assembler.add(queue.popleft())
            if span is not None:
                self._batch.append(span)
                if len(self._batch) >= self.batch_size:
                    self._export(exporter)
        if self._batch and (flushing or time.monotonic() - self._last_export >= self.interval):
            self._export(exporter)
        self._unfinished = assembler.dropped
        self._report()

    def _export(self, exporter: SpanExporter | None) -> None:
        from opentelemetry.sdk.trace.export import SpanExportResult

        batch, self._batch = self._batch, []
        self._last_export = time.monotonic()
        try:
            ok = exporter is not None and exporter.export(batch) is SpanExportResult.SUCCESS
        except Exception:
            ok = False
        if ok:
            self._exported += len(batch)
        else:
            self._failed += len(batch)

    def _report(self) -> None:
        """Losses since the last report, on ``traced_http.internal``, every few minutes."""
        now = (self._dropped, self._failed, self._unfinished)
        if now == self._reported or time.monotonic() - self._last_report < REPORT_EVERY:
            return
        dropped, failed, unfinished = (a - b for a, b in zip(now, self._reported))
        self._reported = now
        self._last_report = time.monotonic()
        _internal.warning(
            "traced_http: OTLP export to %s lost spans: %d events dropped (queue full), "
            "%d spans not delivered, %d unfinished spans dropped; reported at most every %d s",
            self.url,
            dropped,
            failed,
            unfinished,
            int(REPORT_EVERY),
        )

    # -- control ----------------------------------------------------------------------

    @property
    def stats(self) -> ExportStats:
        """Counts so far; exact once ``flush`` has returned True."""
        return ExportStats(self._exported, self._failed, self._dropped, self._unfinished)

    def flush(self, timeout: float = EXIT_FLUSH_TIMEOUT) -> bool:  # type: ignore[override]
        """Export what is queued now; True when done within ``timeout`` seconds."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            return not self._queue
        with self._done:
            self._flush_wanted += 1
            wanted = self._flush_wanted
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._flushed >= wanted, timeout)

    def shutdown(self, timeout: float = EXIT_FLUSH_TIMEOUT) -> bool:
        """Flush, stop the worker and detach from the logger; True when all was flushed."""
        logging.getLogger(LOGGER_NAME).removeHandler(self)
        with _registry_lock:
            if _exports.get(self.url) is self:
                del _exports[self.url]
        flushed = self.flush(timeout)
        with self._start_lock:
            self._stopping = True
            thread = self._thread
        if thread is not None:
            with self._done:
                self._stopping = True
            self._wake.set()
            thread.join(timeout)
        return flushed

    def close(self) -> None:
        """``logging.shutdown`` (interpreter exit) closes handlers: flush on the way out."""
        if not self._stopping:
            self.shutdown()
        super().close()


def _preload() -> None:
    """Import and detect now, on the thread that starts export, not in the worker.

    A fork while the worker imports would leave the child a half-initialised module,
    and the SDK's resource detectors cannot start threads during interpreter shutdown.
    """
    import opentelemetry.exporter.otlp.proto.http.trace_exporter
    import opentelemetry.sdk.trace.export  # noqa: F401

    from traced_http.otlp.spans import base_resource

    base_resource()


_exports: dict[str, LiveExport] = {}
_registry_lock = threading.Lock()
_hooks_installed = False
_previous_sigterm: _SignalHandler = None


def start_export(url: str, **options: Any) -> LiveExport:
    """Export every event of this process to ``url`` (a traces URL); once per URL.

    Starting again with the same URL returns the running export (and re-attaches it to
    the ``traced_http`` logger if the logging set-up was replaced).
    """
    global _hooks_installed
    with _registry_lock:
        export = _exports.get(url)
        if export is None:
            export = _exports[url] = LiveExport(url, **options)
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_flush_all)
            os.register_at_fork(after_in_child=_after_fork)
            _chain_sigterm()
    logger = logging.getLogger(LOGGER_NAME)
    if export not in logger.handlers:
        logger.addHandler(export)
    return export


def active_exports() -> list[LiveExport]:
    """The live exports of this process."""
    with _registry_lock:
        return list(_exports.values())


def _flush_all() -> None:
    for export in active_exports():
        export.flush(EXIT_FLUSH_TIMEOUT)


def _after_fork() -> None:
    """In a forked child: the parent's worker thread did not follow; start afresh."""
    global _registry_lock
    _registry_lock = threading.Lock()
    for export in list(_exports.values()):
        export._reset()


def _chain_sigterm() -> None:
    """Flush on SIGTERM, then do what was done before (the app's handler, or exit).

    Only from the main thread (``signal`` allows no other); a server that installs its
    own handler later (gunicorn's workers) replaces this one, and its graceful exit then
    flushes through ``atexit``.
    """
    global _previous_sigterm
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        return
    _previous_sigterm = previous
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _flush_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
