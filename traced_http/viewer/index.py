"""A live index of growing log files, for `traced-http serve`.

Memory stays small whatever the logs hold: per trace, the `TraceSummary` that `list`
prints plus, per input file, the byte range its lines occupy; per route, the durations
`stats` needs. A trace's events are read again from that range when its page is asked for,
so a page costs a read of a few kilobytes, not a scan. Files are followed as they grow
(a background thread reads what was appended); standard input and gzip files, which cannot
be read twice, are copied to a temporary file first and followed there.
"""

from __future__ import annotations

import gzip
import json
import logging
import mmap
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from traced_http.schema import START
from traced_http.viewer.reader import ReadCounts, parse_line
from traced_http.viewer.stats import Stats, route_of
from traced_http.viewer.summary import Summaries

Event = dict[str, Any]
logger = logging.getLogger("traced_http.viewer")

BLOCK_SIZE = 1 << 20
MAX_LINE = 16 << 20  # as the reader: a longer "line" is dropped, not kept in memory
MAX_SEARCH_LINES = 20_000  # a text search looks at no more matching lines than this
_GZIP_MAGIC = b"\x1f\x8b"


class Source:
    """One followed file: its path, how far it has been read, and its spool when copied."""

    def __init__(self, path: str, label: str) -> None:
        self.path = path
        self.label = label
        self.offset = 0  # bytes indexed: always just after a newline
        self.partial_since: int | None = None  # where an unfinished last line began


@dataclass
class IndexStatus:
    """What the index holds, for the pages' footer and for tests waiting on it."""

    files: int
    traces: int
    events: int
    lines: int
    skipped: int
    bytes_read: int
    loading: bool


class LogIndex:
    """Summaries, stats and byte ranges of every trace in the given inputs, kept current."""

    def __init__(self, inputs: list[str], poll: float = 0.5) -> None:
        self.inputs = inputs
        self.poll = poll
        self.lock = threading.Lock()
        self.summaries = Summaries()
        self.stats = Stats()
        self.counts = ReadCounts()
        # trace id -> flat [source, first byte, end byte, source, ...]; one triple per file.
        self.ranges: dict[str, list[int]] = {}
        self.services: set[str] = set()
        # Routes as bits, as `Summaries` does services: trace id -> the routes it went through.
        self.route_bit: dict[str, int] = {}
        self.trace_routes: dict[str, int] = {}
        # Pages built from the whole index, with the event count they were built at.
        self.page_cache: dict[str, tuple[int, str]] = {}
        self.sources: list[Source] = []
        self._known: set[str] = set()
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._spool_dir: str | None = None
        self._follower: threading.Thread | None = None

    # -- inputs ---------------------------------------------------------------------------

    def _spool(self, name: str) -> str:
        if self._spool_dir is None:
            self._spool_dir = tempfile.mkdtemp(prefix="traced-http-serve-")
        return os.path.join(self._spool_dir, f"{len(self.sources)}-{name}")

    def _copy_stdin(self, target: str) -> None:
        """Copy standard input to the spool as it arrives, so the tail can follow it."""
        stdin = sys.stdin.buffer
        with open(target, "ab", buffering=0) as out:
            while not self._stop.is_set():
                block = stdin.read1(BLOCK_SIZE) if hasattr(stdin, "read1") else stdin.read(4096)
                if not block:
                    return
                out.write(block)

    def _add_file(self, path: str) -> None:
        if path in self._known:
            return
        self._known.add(path)
        try:
            with open(path, "rb") as raw:
                gzipped = raw.read(2) == _GZIP_MAGIC
        except OSError as exc:
            logger.warning("cannot read %s: %s", path, exc.strerror or exc)
            return
        if gzipped:
            target = self._spool(os.path.basename(path))
            with gzip.open(path, "rb") as unpacked, open(target, "wb") as out:
                try:
                    shutil.copyfileobj(unpacked, out, BLOCK_SIZE)
                except (OSError, EOFError):
                    self.counts.broken += 1  # a truncated gzip: keep what was read
            self.sources.append(Source(target, path))
        else:
            self.sources.append(Source(path, path))

    def _discover(self) -> None:
        """Find the files to follow: the ones given, and every file of the folders given."""
        for item in self.inputs:
            if item == "-":
                if "-" not in self._known:
                    self._known.add("-")
                    target = self._spool("stdin")
                    open(target, "wb").close()
                    self.sources.append(Source(target, "standard input"))
                    # Not joined on stop: it may be blocked reading a pipe that stays open.
                    threading.Thread(target=self._copy_stdin, args=(target,), daemon=True).start()
            elif os.path.isdir(item):
                try:
                    names = sorted(os.listdir(item))
                except OSError:
                    continue
                for name in names:
                    path = os.path.join(item, name)
                    if not name.startswith(".") and os.path.isfile(path):
                        self._add_file(path)
            else:
                self._add_file(item)

    # -- reading --------------------------------------------------------------------------

    def _note(self, event: Event, source: int, first: int, end: int) -> None:
        ranges = self.ranges.get(event["traceid"])
        if ranges is None:
            self.ranges[event["traceid"]] = [source, first, end]
            return
        for at in range(0, len(ranges), 3):
            if ranges[at] == source:
                ranges[at + 1] = min(ranges[at + 1], first)
                ranges[at + 2] = max(ranges[at + 2], end)
                return
        ranges.extend((source, first, end))

    def _note_route(self, event: Event) -> None:
        route = route_of(event["msg_dict"])
        bit = self.route_bit.get(route)
        if bit is None:
            bit = self.route_bit[route] = 1 << len(self.route_bit)
        trace_id = event["traceid"]
        self.trace_routes[trace_id] = self.trace_routes.get(trace_id, 0) | bit

    def _read_new(self, number: int, source: Source) -> bool:
        """Index the complete lines appended since the last look; True when any were."""
        try:
            size = os.path.getsize(source.path)
        except OSError:
            return False
        if size < source.offset:  # truncated or replaced: start again from its beginning
            logger.warning("%s shrank: reading it again from the start", source.label)
            source.offset = 0
        if size == source.offset:
            return False
        if source.offset == 0 and not self._loaded.is_set():
            self._read_backwards(number, source, size)
            return True
        with open(source.path, "rb") as stream:
            stream.seek(source.offset)
            while source.offset < size and not self._stop.is_set():
                block = stream.read(min(BLOCK_SIZE, size - source.offset))
                if not block:
                    break
                cut = block.rfind(b"\n")
                if cut < 0:
                    if len(block) < BLOCK_SIZE:
                        break  # an unfinished line: wait for its newline
                    # No newline in a whole block: skip to the next one (a runaway line).
                    self._skip_runaway(stream, source)
                    continue
                self._index_block(number, source.offset, block[: cut + 1])
                source.offset += cut + 1
                stream.seek(source.offset)
        return True

    def _read_backwards(self, number: int, source: Source, size: int) -> None:
        """Index what a file holds at start from its end: the newest traces, which the list
        shows first, are ready within a second, and the rest fills in behind them."""
        with open(source.path, "rb") as stream:
            stream.seek(max(0, size - BLOCK_SIZE))
            tail = stream.read(size - max(0, size - BLOCK_SIZE))
            cut = tail.rfind(b"\n")
            if cut < 0:
                return  # no complete line near the end: leave it to the forward reader
            complete = size - len(tail) + cut + 1
            end = complete
            while end > 0 and not self._stop.is_set():
                start = max(0, end - BLOCK_SIZE)
                stream.seek(start)
                block = stream.read(end - start)
                if start > 0:
                    first = block.find(b"\n")
                    # A line longer than a block: its pieces are counted as broken lines.
                    block = block[first + 1 :] if first >= 0 else b""
                    start = end - len(block)
                if block:
                    self._index_block(number, start, block)
                end = start if block else end - BLOCK_SIZE
        source.offset = complete

    def _skip_runaway(self, stream: BinaryIO, source: Source) -> None:
        while True:
            block = stream.read(BLOCK_SIZE)
            if not block:
                return
            cut = block.find(b"\n")
            if cut >= 0:
                source.offset = stream.tell() - len(block) + cut + 1
                stream.seek(source.offset)
                with self.lock:
                    self.counts.broken += 1
                return

    def _index_block(self, number: int, base: int, block: bytes) -> None:
        counts = ReadCounts()
        events: list[tuple[Event, int, int]] = []
        position = 0
        # Logs are nearly always ASCII (JSON escapes the rest): then one decode of the
        # block does, and a line's length in characters is its length in bytes.
        lines: list[str] | list[bytes] = (
            block.decode("ascii").split("\n") if block.isascii() else block.split(b"\n")
        )
        counts.lines += len(lines) - 1
        for raw in lines[:-1]:
            end = position + len(raw) + 1
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError:
                    counts.broken += 1
                    position = end
                    continue
            else:
                line = raw
            event = parse_line(line, counts)
            if event is not None:
                events.append((event, base + position, base + end))
            position = end
        with self.lock:
            for event, first, last in events:
                self.services.add(event["service"])
                self.summaries.add(event)
                if event["event_des"] == START:
                    self._note_route(event)
                self._note(event, number, first, last)
            self.stats.add_all(event for event, _first, _last in events)
            total = self.counts
            total.lines += counts.lines
            total.events += counts.events
            total.broken += counts.broken
            total.not_events += counts.not_events
            total.bytes_read += len(block)

    def refresh(self) -> bool:
        """Look once for new files and new lines; True when anything was indexed."""
        self._discover()
        grew = False
        for number, source in enumerate(self.sources):
            grew |= self._read_new(number, source)
        return grew

    def _follow(self) -> None:
        try:
            self.refresh()
        finally:
            self._loaded.set()
        while not self._stop.wait(self.poll):
            self.refresh()

    def start(self) -> None:
        """Index in the background: everything there is first, then what is appended."""
        self._follower = threading.Thread(target=self._follow, daemon=True, name="follow")
        self._follower.start()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait until the inputs as they were at start are indexed."""
        return self._loaded.wait(timeout)

    def stop(self) -> None:
        """Stop following and remove the spool files."""
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=2)
        if self._spool_dir is not None:
            shutil.rmtree(self._spool_dir, ignore_errors=True)

    def status(self) -> IndexStatus:
        """The totals so far."""
        with self.lock:
            counts = self.counts
            return IndexStatus(
                files=len(self.sources),
                traces=len(self.summaries.traces),
                events=counts.events,
                lines=counts.lines,
                skipped=counts.broken + counts.not_events,
                bytes_read=counts.bytes_read,
                loading=not self._loaded.is_set(),
            )

    # -- reading back ---------------------------------------------------------------------

    def events_of(self, trace_id: str) -> list[Event]:
        """Every event of one trace, read again from the byte ranges its lines occupy."""
        with self.lock:
            ranges = list(self.ranges.get(trace_id, ()))
        needle = trace_id.encode("utf-8")
        events: list[Event] = []
        counts = ReadCounts()
        for at in range(0, len(ranges), 3):
            source = self.sources[ranges[at]]
            for raw in _lines_in(source.path, ranges[at + 1], ranges[at + 2], needle):
                try:
                    event = parse_line(raw.decode("utf-8"), counts)
                except UnicodeDecodeError:
                    continue
                if event is not None and event["traceid"] == trace_id:
                    events.append(event)
        return events

    def search(self, text: str) -> set[str]:
        """Trace ids of the lines that contain `text`, as written or as JSON escapes it.

        A byte search over the indexed part of every file (as `grep -F`), looking at no
        more than `MAX_SEARCH_LINES` matching lines.
        """
        needles = {
            form.encode("utf-8", "surrogatepass")
            for form in (
                text,
                json.dumps(text, ensure_ascii=False)[1:-1],
                json.dumps(text)[1:-1],
            )
            if form
        }
        found: set[str] = set()
        seen = 0
        counts = ReadCounts()
        for source in list(self.sources):
            for raw in _search_file(source.path, source.offset, needles):
                seen += 1
                if seen > MAX_SEARCH_LINES:
                    return found
                try:
                    event = parse_line(raw.decode("utf-8"), counts)
                except UnicodeDecodeError:
                    continue
                if event is not None:
                    found.add(event["traceid"])
        return found


def _lines_in(path: str, first: int, end: int, needle: bytes) -> Iterator[bytes]:
    """The lines between two byte offsets of a file that contain `needle`."""
    try:
        with open(path, "rb") as stream:
            stream.seek(first)
            rest = b""
            remaining = end - first
            while remaining > 0:
                block = stream.read(min(BLOCK_SIZE, remaining))
                if not block:
                    break
                remaining -= len(block)
                lines = (rest + block).split(b"\n")
                rest = lines.pop()
                yield from (line for line in lines if needle in line)
            if rest and needle in rest:
                yield rest
    except OSError as exc:
        logger.warning("cannot read %s again: %s", path, exc.strerror or exc)


def _search_file(path: str, limit: int, needles: set[bytes]) -> Iterator[bytes]:
    """The lines of the first `limit` bytes of a file that contain any of `needles`."""
    if limit <= 0:
        return
    try:
        with (
            open(path, "rb") as stream,
            mmap.mmap(stream.fileno(), limit, access=mmap.ACCESS_READ) as data,
        ):
            for needle in needles:
                found = data.find(needle)
                while found >= 0:
                    start = data.rfind(b"\n", 0, found) + 1
                    end = data.find(b"\n", found)
                    end = limit if end < 0 else end
                    yield data[start:end]
                    found = data.find(needle, end)
    except (OSError, ValueError) as exc:
        logger.warning("cannot search %s: %s", path, exc)
