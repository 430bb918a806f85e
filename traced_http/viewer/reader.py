"""Stream event lines from files, globs, gzip files and standard input.

Inputs are read in large blocks and split into lines, so memory stays flat whatever the
input size. Every line that is not a usable event is skipped and counted, never fatal:
logs are often mixed with an application's own records, and the last line of a crashed
service may be cut in half.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

Event = dict[str, Any]

BLOCK_SIZE = 1 << 20
# A longer "line" is not a log record anyone wrote; dropping it bounds memory.
MAX_LINE = 16 << 20
# How many `{` of a line's prefix are tried as the start of the event object.
MAX_PREFIX_TRIES = 4
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """An input that cannot be read at all (a missing file, a glob matching nothing)."""


@dataclass
class ReadCounts:
    """What reading saw; `not_events` and `broken` are the lines skipped.

    `lines` counts the lines read (with a needle: only those containing it).
    """

    lines: int = 0
    events: int = 0
    not_events: int = 0
    broken: int = 0
    bytes_read: int = 0

    def skipped_summary(self) -> str:
        """One sentence about the skipped lines, empty when none were skipped."""
        parts = []
        if self.broken:
            parts.append(f"{self.broken:,} broken")
        if self.not_events:
            parts.append(f"{self.not_events:,} not events")
        if not parts:
            return ""
        return "skipped " + " and ".join(parts) + f" of {self.lines:,} lines read"


class _Stream(Protocol):
    """What reading needs of an input: plain file, gzip file or stdin."""

    def read(self, size: int = ..., /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int: ...

    def close(self) -> None: ...


class ProgressSink(Protocol):
    """Receives the running totals while inputs are read (see `progress.Progress`)."""

    def update(self, counts: ReadCounts) -> None: ...


def expand_inputs(patterns: Sequence[str]) -> list[str]:
    """Expand globs ourselves (quoted globs, shells without globbing); `-` is stdin."""
    paths: list[str] = []
    for pattern in patterns:
        if pattern == "-":
            paths.append(pattern)
        elif glob.has_magic(pattern):
            matches = sorted(glob.glob(os.path.expanduser(pattern)))
            if not matches:
                raise InputError(f"no file matches {pattern}")
            paths.extend(matches)
        else:
            paths.append(pattern)
    return paths


def input_size(paths: Sequence[str]) -> int | None:
    """Total bytes of the inputs when known up front, for a progress percentage.

    None with stdin or a gzip file, whose decompressed size is not known in advance.
    """
    total = 0
    for path in paths:
        if path == "-":
            return None
        try:
            with open(path, "rb") as raw:
                if raw.read(2) == _GZIP_MAGIC:
                    return None
            total += os.path.getsize(path)
        except OSError:
            return None
    return total


def _open(path: str) -> _Stream:
    """Open one input for binary reading, decompressing gzip by its magic bytes."""
    if path == "-":
        # BufferedReader in practice; typeshed only promises BinaryIO (no readinto).
        stdin = cast(io.BufferedReader, sys.stdin.buffer)
        peek = getattr(stdin, "peek", None)
        if peek is not None and peek(2)[:2] == _GZIP_MAGIC:
            return gzip.GzipFile(fileobj=stdin, mode="rb")
        return stdin
    try:
        raw = open(path, "rb")  # noqa: SIM115 - handed to the caller, closed by it
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw.read(2) == _GZIP_MAGIC:
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")
    raw.seek(0)
    return raw


def _blocks(stream: _Stream, counts: ReadCounts) -> Iterator[bytes]:
    """Yield blocks of whole lines; a partial last line is held back until its newline."""
    rest = b""
    while True:
        try:
            block = stream.read(BLOCK_SIZE)
        except (OSError, EOFError, gzip.BadGzipFile):
            # A truncated or corrupt gzip member: keep what was read, count the loss.
            counts.broken += 1
            block = b""
        if not block:
            if rest:
                yield rest
            return
        counts.bytes_read += len(block)
        cut = block.rfind(b"\n")
        if cut < 0:
            rest += block
            if len(rest) > MAX_LINE:
                counts.broken += 1
                rest = b""
            continue
        yield rest + block[: cut + 1] if rest else block[: cut + 1]
        rest = block[cut + 1 :]


_decode = json.JSONDecoder().raw_decode


def _parse(line: str, counts: ReadCounts) -> Event | None:
    """Return the event on this line, or None after counting why it was skipped."""
    if not line or line[0] != "{":
        line = line.strip()
        if not line:
            return None
        if line[0] != "{":
            return _parse_prefixed(line, counts)
    try:
        # raw_decode skips json.loads' whitespace handling: the hottest call of `list`.
        obj, end = _decode(line)
    except (ValueError, RecursionError):
        counts.broken += 1
        return None
    if end != len(line) and line[end:].strip():
        counts.broken += 1
        return None
    return _checked(obj, counts)


def _parse_prefixed(line: str, counts: ReadCounts) -> Event | None:
    """The event after a prefix (`INFO:traced_http:`, `orders-1  | `, a journald stamp).

    The object is the text from a `{` to the end of the line; the `{`s of the prefix are
    tried left to right, at most `MAX_PREFIX_TRIES` of them, so the work stays linear. A
    line with no object is plain text (an access line, a traceback) and not an event.
    """
    position = line.find("{")
    for _ in range(MAX_PREFIX_TRIES):
        if position < 0:
            break
        try:
            obj, end = _decode(line, position)
        except (ValueError, RecursionError):
            obj, end = None, -1
        if end == len(line) and type(obj) is dict:
            return _checked(obj, counts)
        position = line.find("{", position + 1)
    counts.not_events += 1
    return None


def _checked(obj: Any, counts: ReadCounts) -> Event | None:
    """Count and return `obj` when it is a usable event."""
    if type(obj) is not dict or "event_des" not in obj or obj.get("traceid") is None:
        # Not an event (an application's own record), or add_event outside any trace:
        # an event that belongs to no trace to show.
        counts.not_events += 1
        return None
    if not _valid(obj):
        counts.broken += 1
        return None
    counts.events += 1
    return obj


def parse_line(line: str, counts: ReadCounts) -> Event | None:
    """One line's event, checked as `read_events` checks it, or None (counted as skipped)."""
    return _parse(line, counts)


def _parse_bytes(line: bytes, counts: ReadCounts) -> Event | None:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        if line.strip():
            counts.broken += 1
        return None
    return _parse(text, counts)


def _lines(block: bytes, counts: ReadCounts) -> Iterator[Event]:
    """Parse every line of `block`; decoding the block at once is much cheaper than per line."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        for line in block.split(b"\n"):
            event = _parse_bytes(line, counts)
            if event is not None:
                yield event
        return
    for text_line in text.split("\n"):
        event = _parse(text_line, counts)
        if event is not None:
            yield event


def _valid(obj: Event) -> bool:
    """Check the fields the viewer relies on, so the rest of it can trust their types.

    Exact type checks (JSON gives no subclasses): this runs for every event of `list`.
    """
    trace_id = obj["traceid"]
    span_id = obj.get("span_id")
    parent = obj.get("parent_id")
    if not (
        type(trace_id) is str
        and trace_id
        and type(span_id) is str
        and span_id
        and type(obj["event_des"]) is str
        and (parent is None or type(parent) is str)
    ):
        return False
    msg = obj.get("msg_dict")
    if type(msg) is not dict:
        if msg is not None:
            return False
        obj["msg_dict"] = {}
    service = obj.get("service")
    if type(service) is not str:
        obj["service"] = "?" if service is None else str(service)
    return True


def read_events(
    paths: Sequence[str],
    counts: ReadCounts,
    needle: bytes | None = None,
    progress: ProgressSink | None = None,
) -> Iterator[Event]:
    """Yield every event of the inputs, in input order.

    With `needle`, only lines containing those bytes are looked at: finding one trace in a
    large log then costs little more than a byte search, and `counts` then describes only
    the lines that contained it.
    """
    for path in paths:
        stream = _open(path)
        try:
            if needle is None:
                for block in _blocks(stream, counts):
                    counts.lines += block.count(b"\n") + (not block.endswith(b"\n"))
                    yield from _lines(block, counts)
                    if progress is not None:
                        progress.update(counts)
            else:
                for line in _lines_with(stream, needle, counts, progress):
                    counts.lines += 1
                    event = _parse_bytes(line, counts)
                    if event is not None:
                        yield event
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


def _lines_with(
    stream: _Stream, needle: bytes, counts: ReadCounts, progress: ProgressSink | None
) -> Iterator[bytes]:
    """The lines of `stream` that contain `needle`.

    One reused buffer and a byte search per block: no copy and no split of the lines that
    do not match, which is nearly all of them.
    """
    buffer = bytearray(BLOCK_SIZE)
    view = memoryview(buffer)
    partial = b""  # the start of a line that continues in the next block
    while True:
        size = stream.readinto(view)
        if not size:
            break
        counts.bytes_read += size
        last_newline = buffer.rfind(b"\n", 0, size)
        if last_newline < 0:
            partial += view[:size]
            if len(partial) > MAX_LINE:
                counts.broken += 1
                partial = b""
            continue
        position = 0
        if partial:
            first_newline = buffer.find(b"\n", 0, size)
            line = partial + view[:first_newline]
            if needle in line:
                yield line
            position = first_newline + 1
        found = buffer.find(needle, position, last_newline)
        while found >= 0:
            start = buffer.rfind(b"\n", 0, found) + 1
            end = buffer.find(b"\n", found, last_newline + 1)
            yield bytes(view[start:end])
            found = buffer.find(needle, end + 1, last_newline)
        partial = bytes(view[last_newline + 1 : size])
        if progress is not None:
            progress.update(counts)
    if needle in partial:
        yield partial
