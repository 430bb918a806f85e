"""The recipes of docs/logging.md, run as the page shows them.

Each recipe runs in a fresh Python process (logging set-up is process-wide) with a small
traced app that logs a line of its own; the test then reads what reached each file and
stream. The gunicorn recipes run a real gunicorn, in daemon mode, on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from doc_blocks import marked

PAGE = "docs/logging.md"
APP = """
from flask import Flask
from flask_hooks import Tracing

app = Flask("orders")
Tracing(app)


@app.route("/orders/<int:number>")
def order(number):
    app.logger.info("order %s looked up", number)
    return {"order": number}
"""
DRIVER = APP + '\nassert app.test_client().get("/orders/7").status_code == 200\n'


def recipe(name: str) -> str:
    (block,) = marked(PAGE, "recipe", name)
    return block.code


def run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done


def events_in(text: str) -> list[dict[str, Any]]:
    """The events of a log, each line read as one whole JSON object."""
    found = []
    for line in text.splitlines():
        if '"event_des"' in line:
            found.append(json.loads(line))
    return found


def assert_one_request(events: list[dict[str, Any]]) -> str:
    assert [e["event_des"] for e in events] == ["start", "end"]
    assert events[0]["traceid"] == events[1]["traceid"]
    return str(events[0]["traceid"])


def test_one_json_file_per_service(tmp_path):
    done = run(recipe("json-file") + DRIVER, tmp_path)

    log = (tmp_path / "orders.log").read_text()
    trace_id = assert_one_request(events_in(log))
    (own,) = [json.loads(line) for line in log.splitlines() if '"logger": "orders"' in line]
    assert (own["message"], own["traceid"]) == ("order 7 looked up", trace_id)
    assert "event_des" not in done.stderr + done.stdout


@pytest.mark.parametrize("name", ["events-file-console", "dictconfig"])
def test_events_in_a_file_own_lines_on_the_console(tmp_path, name):
    done = run(recipe(name) + DRIVER, tmp_path)

    trace_id = assert_one_request(events_in((tmp_path / "events.jsonl").read_text()))
    assert f"INFO [{trace_id}] orders: order 7 looked up" in done.stderr
    assert "event_des" not in done.stderr  # written once, to the file only


def test_basicconfig_alone_prefixes_every_event(tmp_path):
    done = run("import logging\nlogging.basicConfig(level=logging.INFO)\n" + DRIVER, tmp_path)

    assert 'INFO:traced_http:{"ts"' in done.stderr


def test_basicconfig_with_the_events_on_their_own_handler(tmp_path):
    done = run(recipe("basicconfig") + DRIVER, tmp_path)

    assert_one_request([json.loads(line) for line in done.stdout.splitlines()])
    assert "INFO:orders:order 7 looked up" in done.stderr
    assert "traced_http" not in done.stderr


def test_containers_log_everything_to_stdout(tmp_path):
    done = run(recipe("stdout") + DRIVER, tmp_path)

    lines = [json.loads(line) for line in done.stdout.splitlines()]
    trace_id = assert_one_request([line for line in lines if "event_des" in line])
    assert {"logger": "orders", "message": "order 7 looked up", "traceid": trace_id}.items() <= (
        next(line for line in lines if line.get("logger") == "orders").items()
    )
    assert "event_des" not in done.stderr


# --- gunicorn ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: Any, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Any]:
    """``start(*options)``: gunicorn -D serving the app; returns its URL; stopped after."""
    (tmp_path / "app.py").write_text(APP)
    pidfile = tmp_path / "gunicorn.pid"
    started: list[int] = []

    def start(*options: str) -> str:
        port = _free_port()
        command = [sys.executable, "-m", "gunicorn", "-D", "--pid", str(pidfile)]
        command += ["-b", f"127.0.0.1:{port}", *options, "app:app"]
        subprocess.run(command, cwd=tmp_path, check=True, timeout=60)
        _wait(lambda: pidfile.exists() and pidfile.read_text().strip(), "the pid file")
        started.append(int(pidfile.read_text()))
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(url + "/orders/0"), "gunicorn to answer")
        return url

    yield start
    for pid in started:
        os.kill(pid, signal.SIGTERM)
        _wait(lambda pid=pid: _gone(pid), "gunicorn to stop")


def test_gunicorn_daemon_one_file_per_worker_and_the_id_in_the_access_log(tmp_path, daemon):
    (config,) = marked(PAGE, "file", "gunicorn.conf.py")
    (tmp_path / "gunicorn.conf.py").write_text(config.code)
    access_format = '%(h)s "%(r)s" %(s)s %(M)sms traceid=%({traceid}o)s'

    url = daemon(
        "-c", "gunicorn.conf.py", "-w", "2", "--access-logfile", "access.log",
        "--access-logformat", access_format,
    )  # fmt: skip
    answer = requests.get(url + "/orders/7", timeout=10)

    trace_id = answer.headers["traceid"]
    access = tmp_path / "access.log"
    _wait(lambda: f"traceid={trace_id}" in access.read_text(), "the access log line")
    (line,) = [line for line in access.read_text().splitlines() if trace_id in line]
    assert line.startswith('127.0.0.1 "GET /orders/7 HTTP/1.1" 200 ')
    worker_logs = sorted(tmp_path.glob("orders.*.log"))
    assert worker_logs, "each worker opens its own file"
    _wait(lambda: sum(trace_id in p.read_text() for p in worker_logs) == 1, "the worker's events")
    events = [e for p in worker_logs for e in events_in(p.read_text()) if e["traceid"] == trace_id]
    assert_one_request(events)


def test_gunicorn_daemon_with_capture_output_keeps_the_events(tmp_path, daemon):
    url = daemon("--capture-output", "--error-logfile", "orders.log")

    trace_id = requests.get(url + "/orders/7", timeout=10).headers["traceid"]

    log = tmp_path / "orders.log"
    _wait(lambda: log.read_text().count(trace_id) >= 2, "the events in the error log")
    assert_one_request([e for e in events_in(log.read_text()) if e["traceid"] == trace_id])
