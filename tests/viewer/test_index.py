"""The index behind `serve`: byte ranges that find a trace's lines again, in any encoding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viewer_logs import FAILED_TRACE, JOB_TRACE, TRACE, Chain, make_chain

from traced_http.viewer import index as index_module
from traced_http.viewer.index import LogIndex


def read(*paths: Path, backwards: bool = True) -> LogIndex:
    index = LogIndex([str(p) for p in paths])
    if not backwards:
        index._loaded.set()  # as when following: read forwards from the last offset
    index.refresh()
    return index


def test_raw_utf8_and_broken_lines_keep_every_trace_findable(tmp_path: Path) -> None:
    c = Chain()
    c.request("gateway", "GET", "/café/ünïcode", trace="a" * 32, start=0, duration=0.1)
    c.request("gateway", "GET", "/naïve", trace="b" * 32, start=0.05, duration=0.1)
    lines = [json.dumps(e, ensure_ascii=False).encode() for e in c.events]
    log = tmp_path / "utf8.log"
    log.write_bytes(b"\n".join([lines[0], b"\xff\xfe not utf-8", *lines[1:]]) + b"\n")
    index = read(log)
    events = index.events_of("a" * 32)
    assert [e["msg_dict"].get("path") for e in events] == ["/café/ünïcode", None]
    assert len(index.events_of("b" * 32)) == 2
    status = index.status()
    assert (status.events, status.skipped, status.traces) == (4, 1, 2)


def test_reading_backwards_gives_what_reading_forwards_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = make_chain()
    log = tmp_path / "all.log"
    log.write_text("".join(line + "\n" for line in chain.lines() * 3), encoding="utf-8")
    monkeypatch.setattr(index_module, "BLOCK_SIZE", 1024)  # many blocks, lines cut at edges
    back, forth = read(log), read(log, backwards=False)
    assert back.ranges == forth.ranges
    for trace_id in (TRACE, FAILED_TRACE, JOB_TRACE):
        a, b = back.summaries.traces[trace_id], forth.summaries.traces[trace_id]
        assert (a.root_label, a.duration, a.error, a.span_count) == (
            b.root_label,
            b.duration,
            b.error,
            b.span_count,
        )
        assert back.events_of(trace_id) == forth.events_of(trace_id)
    assert [r.count for r in back.stats.rows()] == [r.count for r in forth.stats.rows()]


def test_a_truncated_file_is_read_again(tmp_path: Path) -> None:
    chain = make_chain()
    log = tmp_path / "rotated.log"
    log.write_text("".join(line + "\n" for line in chain.lines()), encoding="utf-8")
    index = read(log)
    first = [line for line in chain.lines() if FAILED_TRACE in line]
    log.write_text("".join(line + "\n" for line in first), encoding="utf-8")
    index.refresh()
    assert len(index.events_of(FAILED_TRACE)) == 2
