"""The traced-http command as a user runs it: list with filters, show, stats."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest
from flask import Flask
from viewer_logs import FAILED_TRACE, JOB_TRACE, TRACE, Chain, write_log

from traced_http.viewer.cli import _parser, main

Run = tuple[int, str, str]


class Runner(Protocol):
    def __call__(self, *args: str, files: list[Path] | None = None) -> Run: ...


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], logs: list[Path]) -> Runner:
    """Run the command on the chain's logs (or `files`); returns status, stdout, stderr."""

    def run(*args: str, files: list[Path] | None = None) -> Run:
        paths = [str(p) for p in (logs if files is None else files)]
        status = main([*args, *paths])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run


def ids(out: str) -> list[str]:
    return [line.split()[2] for line in out.splitlines()[1:]]


def test_list_one_line_per_trace_in_time_order(run: Runner) -> None:
    status, out, err = run("list")
    assert status == 0 and err == ""
    header, *rows = out.splitlines()
    assert header.split()[:4] == ["START", "(UTC)", "TRACE", "ID"]
    assert ids(out) == [TRACE, FAILED_TRACE, JOB_TRACE]
    checkout = rows[0].split()
    assert checkout[:6] == ["2026-06-02", "07:31:26.000", TRACE, "GET", "/checkout", "200"]
    assert checkout[6:] == ["200.0", "ms", "7", "3", "ERROR"]
    assert rows[1].split()[-6:] == ["500", "30.0", "ms", "1", "1", "ERROR"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--service", "inventory"], [TRACE]),
        (["--service", "worker", "--service", "inventory"], [TRACE, JOB_TRACE]),
        (["--slower-than", "150"], [TRACE, JOB_TRACE]),
        (["--since", "2026-06-02T07:31:30Z"], [FAILED_TRACE, JOB_TRACE]),
        (["--until", "2026-06-02T07:31:30"], [TRACE]),
        (["--sort", "duration"], [JOB_TRACE, TRACE, FAILED_TRACE]),
        (["--sort", "duration", "--limit", "1"], [JOB_TRACE]),
        (["--limit", "2"], [FAILED_TRACE, JOB_TRACE]),
    ],
)
def test_list_filters_and_sorting(run: Runner, options: list[str], expected: list[str]) -> None:
    status, out, _ = run("list", *options)
    assert status == 0
    assert ids(out) == expected


def test_list_errors_only(tmp_path: Path, run: Runner) -> None:
    c = Chain()
    c.request("a", "GET", "/fine", trace="1" * 32, start=0.0, duration=0.01)
    c.request("a", "GET", "/bad", trace="2" * 32, start=1.0, duration=0.01, status=503)
    _, out, _ = run("list", "--errors", files=[write_log(tmp_path / "a.log", c.lines())])
    assert ids(out) == ["2" * 32]


def test_list_bad_time_is_a_usage_error(run: Runner, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["list", "--since", "yesterday-ish"])
    assert exc.value.code == 2
    assert "not a time" in capsys.readouterr().err


def test_show_prints_the_tree_with_a_waterfall(run: Runner) -> None:
    status, out, _ = run("show", TRACE[:6])
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(f"trace {TRACE}")
    assert "7 spans" in lines[0] and "3 services" in lines[0] and "2 errors" in lines[0]
    body = lines[2:]
    assert [line.split()[0] for line in body[:9]] == [
        "gateway",
        "gateway",
        "orders",
        "orders",
        "orders",
        "inventory",
        "orders",
        "inventory",
        "gateway",
    ]
    assert "└─ call POST http://payments.internal/charge" in body[8]
    assert "error" in body[8] and "! ConnectionError: connection refused" in body[9]
    assert "↻ retry #1 (status 503)" in body[6]
    # The root's bar spans the whole axis; later spans start further right.
    root_bar, payment_bar = body[0].split("ms  ")[-1], body[8].split("ms  ")[-1]
    assert set(root_bar) == {"█"}
    assert payment_bar.index("█") > len(root_bar) // 2
    assert "\x1b" not in out  # not a terminal: plain


def test_show_marks_orphans(run: Runner, logs: list[Path]) -> None:
    gateway, _orders, inventory, _worker = logs
    status, out, _ = run("show", TRACE, files=[gateway, inventory])
    assert status == 0
    lines = out.splitlines()
    orphan_lines = [line for line in lines if "[orphan]" in line and line.startswith("inventory")]
    assert len(orphan_lines) == 2 and all("├─ GET /stock/42" in line for line in orphan_lines)
    assert "2 orphans" in lines[0]
    assert lines[-1].startswith("[orphan]: the span's parent is not in the logs given")


def test_show_unknown_and_ambiguous_ids(run: Runner, tmp_path: Path) -> None:
    status, out, err = run("show", "ffff")
    assert (status, out) == (1, "")
    assert "no trace id starts with ffff" in err
    c = Chain()
    c.request("a", "GET", "/1", trace="abc1" + "0" * 28, start=0, duration=0.1)
    c.request("a", "GET", "/2", trace="abc2" + "0" * 28, start=1, duration=0.1)
    status, _, err = run("show", "abc", files=[write_log(tmp_path / "a.log", c.lines())])
    assert status == 1 and "matches several traces" in err


def test_show_exact_id_wins_over_longer_ids_it_prefixes(run: Runner, tmp_path: Path) -> None:
    c = Chain()
    c.request("a", "GET", "/long", trace="req-12", start=0, duration=0.1)
    c.request("a", "GET", "/longer", trace="req-13", start=0.5, duration=0.1)
    c.request("a", "GET", "/exact", trace="req-1", start=1, duration=0.1)
    status, out, _ = run("show", "req-1", files=[write_log(tmp_path / "a.log", c.lines())])
    assert status == 0 and "GET /exact" in out and "/long" not in out


def test_show_json_is_the_tree(run: Runner) -> None:
    status, out, _ = run("show", TRACE, "--format", "json")
    assert status == 0
    data = json.loads(out)
    assert data["trace_id"] == TRACE and data["span_count"] == 7
    (root,) = data["roots"]
    assert (root["label"], root["duration_ms"], root["status"]) == ("GET /checkout", 200.0, 200)
    call = root["children"][0]
    assert call["kind"] == "call" and call["parent_id"] == root["span_id"]
    assert call["children"][0]["parent_id"] == call["span_id"]
    assert root["children"][1]["error"] == {
        "type": "ConnectionError",
        "message": "connection refused",
    }
    assert data["skipped"] == {"broken": 0, "not_events": 0}


def test_skipped_lines_reported_on_stderr(run: Runner, tmp_path: Path, chain: Chain) -> None:
    path = write_log(tmp_path / "x.log", ["garbage", '{"half":', *chain.lines()])
    status, out, err = run("list", files=[path])
    assert status == 0 and TRACE in out
    assert "skipped 1 broken and 1 not events" in err
    assert main(["list", "-q", str(path)]) == 0


def test_stats_per_service_and_route(run: Runner) -> None:
    status, out, _ = run("stats")
    assert status == 0
    rows = {tuple(line.split()[:3]): line.split()[3:] for line in out.splitlines()[1:]}
    assert rows[("inventory", "GET", "/stock/{id}")] == [
        "2",
        "50.0%",
        "15.0",
        "ms",
        "50.0",
        "ms",
        "50.0",
        "ms",
    ]
    assert rows[("gateway", "POST", "/orders")][:2] == ["1", "100.0%"]
    assert rows[("worker", "job", "nightly-sync")][:2] == ["1", "0.0%"]
    status, out, _ = run("stats", "--service", "orders")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["orders"]


def test_python_dash_m(logs: list[Path]) -> None:
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "traced_http", "show", TRACE[:8], *map(str, logs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"trace {TRACE}")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("options", "env", "coloured"),
    [([], {}, True), (["--no-color"], {}, False), ([], {"NO_COLOR": "1"}, False)],
)
def test_colour_only_on_a_terminal_and_when_allowed(
    logs: list[Path],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    env: dict[str, str],
    coloured: bool,
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for command in (["show", TRACE], ["list"], ["stats"]):
        terminal = Terminal()
        monkeypatch.setattr("sys.stdout", terminal)
        assert main([*command, *options, *map(str, logs)]) == 0
        assert ("\x1b[" in terminal.getvalue()) is coloured


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "traced_http", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_version() -> None:
    from traced_http import __version__

    result = cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"traced-http {__version__}")


def test_help_has_examples_and_every_option_is_explained() -> None:
    result = cli("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "traced-http show 4bf9 -o trace.html logs/*.log" in result.stdout
    for command in ("list", "show", "stats", "doctor", "diff"):
        assert cli(command, "--help").returncode == 0
    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("value", ["150ms", "0.15s", "150"])
def test_slower_than_takes_units(run: Runner, value: str) -> None:
    _, out, _ = run("list", "--slower-than", value)
    assert ids(out) == [TRACE, JOB_TRACE]  # 200 ms and 1 s; not the 30 ms one


def test_slower_than_without_a_duration_is_a_usage_error(logs: list[Path]) -> None:
    result = cli("list", "--slower-than", "fast", *map(str, logs))
    assert result.returncode == 2 and "not a duration: 'fast'" in result.stderr


@pytest.mark.parametrize(
    ("name", "options", "kind", "warning"),
    [
        ("trace.html", [], "html", ""),
        ("trace.HTM", [], "html", ""),
        ("trace.json", [], "json", ""),
        ("trace.txt", [], "text", ""),
        ("trace.out", [], "text", "warning: writing text to "),
        ("trace.html", ["--format", "json"], "json", "whose name says html"),
    ],
)
def test_output_format_follows_the_file_name(
    logs: list[Path], tmp_path: Path, name: str, options: list[str], kind: str, warning: str
) -> None:
    target = tmp_path / name
    result = cli("show", TRACE[:8], "-o", str(target), *options, *map(str, logs))
    assert result.returncode == 0 and result.stdout == ""
    assert (warning in result.stderr) if warning else result.stderr == ""
    written = target.read_text(encoding="utf-8")
    if kind == "html":
        assert written.startswith("<!DOCTYPE html>")
    elif kind == "json":
        assert json.loads(written)["trace_id"] == TRACE
    else:
        assert written.startswith(f"trace {TRACE}")


@pytest.mark.parametrize("where", ["missing/dir/trace.html", "."])
def test_unwritable_output_is_one_line(logs: list[Path], tmp_path: Path, where: str) -> None:
    target = tmp_path / where
    result = cli("show", TRACE[:8], "-o", str(target), *map(str, logs))
    assert result.returncode == 1
    assert result.stderr.startswith(f"traced-http: cannot write {target}: ")
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_ambiguous_prefix_names_two_of_the_ids(tmp_path: Path) -> None:
    c = Chain()
    for n in range(3):
        c.request("a", "GET", f"/{n}", trace=f"abc{n}" + "0" * 28, start=n, duration=0.1)
    result = cli("show", "abc", str(write_log(tmp_path / "a.log", c.lines())))
    assert result.returncode == 1
    assert result.stderr == (
        f"traced-http: abc matches several traces (abc0{'0' * 28}, abc1{'0' * 28}, ...): "
        "give more of the id\n"
    )


@pytest.mark.parametrize("command", ["list", "stats", "doctor"])
def test_input_without_events_is_an_error_naming_the_file(tmp_path: Path, command: str) -> None:
    path = write_log(tmp_path / "app.log", ["started", '{"level": "INFO", "message": "hi"}'])
    result = cli(command, str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert f"traced-http: no traced-http events in {path} (2 lines read)" in result.stderr
    assert '"traceid" and "event_des"' in result.stderr
    result = cli(command, "-", stdin="plain text\n")
    assert result.returncode == 1 and "no traced-http events in standard input" in result.stderr


def test_events_logged_through_basic_config_are_read(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    """logging.basicConfig's format puts `INFO:traced_http:` before every event."""
    path = tmp_path / "app.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    logger = logging.getLogger("traced_http")
    logger.addHandler(handler)
    try:
        app = make_app("orders")
        app.route("/hello")(lambda: "hi")
        trace_id = app.test_client().get("/hello").headers["traceid"]
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert path.read_text(encoding="utf-8").startswith("INFO:traced_http:{")
    result = cli("list", str(path))
    assert result.returncode == 0, result.stderr
    assert trace_id in result.stdout and "GET /hello" in result.stdout


HOSTILE_PATH = "/x\ud800y\u009b[2J\u202etxt"


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    """A trace whose path holds a lone surrogate, a C1 CSI and a bidi override."""
    c = Chain()
    c.request("gateway", "GET", HOSTILE_PATH, trace=TRACE, start=0, duration=0.1)
    return write_log(tmp_path / "hostile.log", c.lines())  # json.dumps escapes all three


@pytest.mark.parametrize("fmt", ["html", "json", "text"])
def test_lone_surrogates_do_not_stop_writing_a_file(
    hostile_log: Path, tmp_path: Path, fmt: str
) -> None:
    target = tmp_path / f"trace.{fmt}"
    result = cli("show", TRACE, "--format", fmt, "-o", str(target), str(hostile_log))
    assert (result.returncode, result.stderr) == (0, "")
    written = target.read_text(encoding="utf-8")  # valid UTF-8
    if fmt == "json":
        assert json.loads(written)["roots"][0]["path"] == HOSTILE_PATH  # nothing lost
    else:
        assert "\\ud800" in written


def test_json_on_a_terminal_escapes_control_and_bidi_characters(hostile_log: Path) -> None:
    result = cli("show", TRACE, "--format", "json", str(hostile_log))
    assert result.returncode == 0
    for raw in ("\u009b", "\u202e", "\ud800", "\ufffd"):  # nor replaced by "?"
        assert raw not in result.stdout
    assert "\\u009b" in result.stdout and "\\u202e" in result.stdout
    assert json.loads(result.stdout)["roots"][0]["path"] == HOSTILE_PATH


def test_the_viewer_starts_without_loading_requests():
    # The command line reads logs only: the outbound side (requests, urllib3) loads on
    # first use, so `traced-http list` starts in a fraction of requests' import time.
    code = "import sys, traced_http.viewer.cli; print('requests' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr
