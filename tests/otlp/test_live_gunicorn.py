"""Under gunicorn's pre-fork model every worker exports its own spans (gevent's too).

The service is configured by ``OTEL_EXPORTER_OTLP_ENDPOINT`` alone. With ``--preload``
the app (and its export) is built in the master before the workers are forked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

pytest.importorskip("gunicorn")

APP = textwrap.dedent(
    """
    import os, time
    from flask import Flask
    from flask_hooks import Tracing

    app = Flask("orders")
    Tracing(app)

    @app.route("/work")
    def work():
        time.sleep(0.02)
        return {"pid": os.getpid()}
    """
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _gunicorn(tmp_path: Path, args: list[str], otlp_base: str) -> Iterator[str]:
    (tmp_path / "otlp_app.py").write_text(APP)
    port = _free_port()
    env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=otlp_base)
    output = (tmp_path / "gunicorn.out").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            *args,
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(tmp_path),
            "otlp_app:app",
        ],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(url + "/work", timeout=5)
                break
            except requests.RequestException:  # not listening yet, or its workers booting
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.out").read_text())
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        output.close()


@pytest.mark.parametrize(
    "args",
    [
        ["-k", "sync", "-w", "2", "--preload"],
        ["-k", "gthread", "-w", "2", "--threads", "4"],
        ["-k", "gevent", "-w", "2"],
    ],
    ids=["sync-preload", "gthread", "gevent"],
)
def test_spans_from_both_workers_arrive(tmp_path, receiver, args):
    with _gunicorn(tmp_path, args, receiver.base_url) as url:
        answered: dict[str, int] = {}  # trace id -> worker pid
        with ThreadPoolExecutor(4) as pool:
            for _ in range(10):  # bounded: stop as soon as both workers answered
                for response in pool.map(
                    lambda _: requests.get(url + "/work", timeout=10), range(20)
                ):
                    answered[response.headers["traceid"]] = response.json()["pid"]
                if len(set(answered.values())) == 2:
                    break
        assert len(set(answered.values())) == 2
        spans = receiver.wait_for_spans(len(answered) + 1, timeout=30)
    exported = {s.trace_id for s in spans if s.service == "orders"}
    assert set(answered) <= exported
