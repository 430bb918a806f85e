"""Stream event lines from files, globs, gzip files and standard input.

Inputs are read in large blocks and split into lines, so memory stays flat whatever the
input size. Every line that is not a usable event is skipped and counted, never fatal:
logs are often mixed with an application's own records, and the last line of a crashed
service may be cut in half.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Event = dict[str, Any]

BLOCK_SIZE = 1 << 20
# A longer "line" is not a log record anyone wrote; dropping it bounds memory.
MAX_LINE = 16 << 20
_GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """An input that cannot be read at all (a missing file, a glob matching nothing)."""


@dataclass
class ReadCounts:
    """What reading saw; `not_events` and `broken` are the lines skipped."""

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
        return "skipped " + " and ".join(parts) + f" of {self.lines:,} lines"


class _Stream(Protocol):
    """What reading needs of an input: plain file, gzip file or stdin."""

    def read(self, size: int = ..., /) -> bytes: ...

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
    """Total bytes of the inputs when known up front (no stdin), for a progress percentage."""
    total = 0
    for path in paths:
        if path == "-":
            return None
        try:
            total += os.path.getsize(path)
        except OSError:
            return None
    return total


def _open(path: str) -> _Stream:
    """Open one input for binary reading, decompressing gzip by its magic bytes."""
    if path == "-":
        stdin = sys.stdin.buffer
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


def _parse(line: bytes, counts: ReadCounts) -> Event | None:
    """Return the event on this line, or None after counting why it was skipped."""
    text = line.strip()
    if not text:
        return None
    if text[0] != 0x7B:  # "{": plain text, such as a werkzeug access line or a traceback
        counts.not_events += 1
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        counts.broken += 1
        return None
    if not isinstance(obj, dict) or "event_des" not in obj:
        counts.not_events += 1
        return None
    if obj.get("traceid") is None:
        # add_event outside any trace: an event, but it belongs to no trace to show.
        counts.not_events += 1
        return None
    if not _valid(obj):
        counts.broken += 1
        return None
    counts.events += 1
    return obj


def _valid(obj: Event) -> bool:
    """Check the fields the viewer relies on, so the rest of it can trust their types."""
    parent = obj.get("parent_id")
    msg = obj.get("msg_dict")
    if msg is None:
        obj["msg_dict"] = {}
    elif not isinstance(msg, dict):
        return False
    service = obj.get("service")
    if not isinstance(service, str):
        obj["service"] = "?" if service is None else str(service)
    return (
        isinstance(obj["traceid"], str)
        and bool(obj["traceid"])
        and isinstance(obj.get("span_id"), str)
        and bool(obj["span_id"])
        and isinstance(obj["event_des"], str)
        and (parent is None or isinstance(parent, str))
    )


def read_events(
    paths: Sequence[str],
    counts: ReadCounts,
    needle: bytes | None = None,
    progress: ProgressSink | None = None,
) -> Iterator[Event]:
    """Yield every event of the inputs, in input order.

    With `needle`, only lines containing those bytes are parsed at all: finding one trace
    in a large log then costs little more than a byte search. Lines skipped that way are
    counted in `lines` but never classified.
    """
    for path in paths:
        stream = _open(path)
        try:
            for block in _blocks(stream, counts):
                if needle is None:
                    lines = block.split(b"\n")
                    counts.lines += len(lines) - (1 if block.endswith(b"\n") else 0)
                    for line in lines:
                        event = _parse(line, counts)
                        if event is not None:
                            yield event
                else:
                    yield from _matching(block, needle, counts)
                if progress is not None:
                    progress.update(counts)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()


def _matching(block: bytes, needle: bytes, counts: ReadCounts) -> Iterator[Event]:
    """Parse only the lines of `block` that contain `needle`."""
    counts.lines += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
    found = block.find(needle)
    while found >= 0:
        start = block.rfind(b"\n", 0, found) + 1
        end = block.find(b"\n", found)
        end = len(block) if end < 0 else end
        event = _parse(block[start:end], counts)
        if event is not None:
            yield event
        found = block.find(needle, end + 1)
