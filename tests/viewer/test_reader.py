"""Reading: files, globs, gzip and stdin; bad lines are skipped and counted, never fatal."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest
from viewer_logs import TRACE, Chain, write_log

from traced_http.viewer.cli import main
from traced_http.viewer.reader import InputError, ReadCounts, expand_inputs, read_events

APP_LOG = json.dumps({"message": "user logged in", "level": "INFO", "traceid": TRACE})


def read(
    paths: list[str], needle: bytes | None = None
) -> tuple[list[dict[str, object]], ReadCounts]:
    counts = ReadCounts()
    return list(read_events(paths, counts, needle)), counts


def test_bad_lines_are_counted_by_kind(chain: Chain, tmp_path: Path) -> None:
    good = chain.lines()
    bad_type = json.loads(good[0])
    bad_type["msg_dict"] = ["not", "a", "dict"]
    lines = [
        good[0],
        APP_LOG,  # the application's own JSON record: not an event
        '127.0.0.1 - - [02/Jun/2026 07:31:26] "GET / HTTP/1.1" 200 -',  # text: not an event
        '{"ts": "2026-06-02T07:31:26Z", "service": "gateway", "traceid": "4bf9',  # cut short
        json.dumps(bad_type),  # an event whose fields cannot be trusted: broken
        "",
        *good[1:],
    ]
    path = write_log(tmp_path / "mixed.log", lines)
    with path.open("ab") as f:
        f.write(b'{"event_des": "start", "traceid": "\xff\xfe"}\n')  # not UTF-8: broken
    events, counts = read([str(path)])
    assert len(events) == len(good) == counts.events
    assert (counts.not_events, counts.broken) == (2, 3)
    assert (
        counts.skipped_summary()
        == f"skipped 3 broken and 2 not events of {len(good) + 6:,} lines read"
    )  # as wc -l counts


def test_last_line_without_newline_is_read(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("\n".join(chain.lines()), encoding="utf-8")
    events, _ = read([str(path)])
    assert len(events) == len(chain.events)


def test_gzip_is_detected_by_content_and_globs_expand(chain: Chain, tmp_path: Path) -> None:
    lines = chain.lines()
    half = len(lines) // 2
    with gzip.open(tmp_path / "a.log.1", "wt", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines[:half]))
    write_log(tmp_path / "b.log", lines[half:])
    paths = expand_inputs([str(tmp_path / "*.log*")])
    assert [Path(p).name for p in paths] == ["a.log.1", "b.log"]
    events, counts = read(paths)
    assert len(events) == len(lines) and counts.broken == 0


def test_glob_matching_nothing_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.log")])


def test_needle_parses_only_matching_lines(chain: Chain, tmp_path: Path) -> None:
    path = write_log(tmp_path / "x.log", [*chain.lines(), '{"broken'])
    events, counts = read([str(path)], needle=TRACE[:8].encode())
    assert {e["traceid"] for e in events} == {TRACE}
    assert len(events) == sum(e["traceid"] == TRACE for e in chain.events)
    assert counts.lines == len(events)
    assert counts.broken == 0  # the broken line does not contain the id: never looked at


def test_stdin_plain_and_gzip(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = "".join(line + "\n" for line in chain.lines()).encode()
    for payload in (data, gzip.compress(data)):
        stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(payload)))
        monkeypatch.setattr("sys.stdin", stdin)
        assert main(["list", "--no-color"]) == 0
        out = capsys.readouterr().out
        assert TRACE in out and len(out.splitlines()) == 4


def test_missing_file_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "/nonexistent/x.log"]) == 1
    assert "cannot read /nonexistent/x.log" in capsys.readouterr().err


@pytest.mark.parametrize("block_size", [7, 100, 1 << 20])
def test_lines_spanning_blocks_are_read_whole(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_size: int
) -> None:
    monkeypatch.setattr("traced_http.viewer.reader.BLOCK_SIZE", block_size)
    path = write_log(tmp_path / "x.log", chain.lines())
    events, counts = read([str(path)])
    assert events == chain.events and counts.broken == 0
    matching, counts = read([str(path)], needle=TRACE.encode())
    assert matching == [e for e in chain.events if e["traceid"] == TRACE]
    assert counts.broken == 0


@pytest.mark.parametrize(
    "prefix",
    [
        "INFO:traced_http:",  # logging.basicConfig's format
        "orders-1  | ",  # docker compose
        "2026-06-02T07:31:26.757312345Z stdout F ",  # Kubernetes (CRI) container log
        "Jun 02 07:31:26 host orders[4211]: ",  # journald / syslog
        "[pid {4211}] ",  # a prefix holding braces of its own
        "  ",
    ],
)
def test_events_are_found_after_any_prefix(chain: Chain, tmp_path: Path, prefix: str) -> None:
    path = write_log(tmp_path / "x.log", [prefix + line for line in chain.lines()])
    events, counts = read([str(path)])
    assert events == chain.events
    assert (counts.not_events, counts.broken) == (0, 0)
    matching, _ = read([str(path)], needle=TRACE.encode())
    assert matching == [e for e in chain.events if e["traceid"] == TRACE]


def test_prefixed_lines_that_hold_no_event_are_not_events(tmp_path: Path) -> None:
    lines = [
        "INFO:werkzeug:127.0.0.1 - - [02/Jun/2026] GET / 200",
        "INFO:app:{'python': 'dict repr'}",
        'orders-1  | {"cut": ',
        "INFO:app:" + APP_LOG,
        "x {" * 10_000,  # many braces: a bounded number of them are tried
    ]
    events, counts = read([str(write_log(tmp_path / "x.log", lines))])
    assert events == [] and (counts.not_events, counts.broken) == (5, 0)
