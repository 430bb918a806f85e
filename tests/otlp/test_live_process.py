"""Live export across a process's life: exit, SIGTERM (chained), and fork.

Each case runs a small service script in its own Python process, exporting to the
receiver; what is still queued when it stops must arrive.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from flask import Flask
    from flask_hooks import Tracing

    mode, base = sys.argv[1], sys.argv[2]
    if mode == "chained":
        def on_term(signum, frame):
            print("the app's own handler ran", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
    app = Flask("worker")
    Tracing(app, otlp_endpoint=base)

    @app.route("/job/<int:n>")
    def job(n):
        return str(n)

    client = app.test_client()
    for n in range(3):
        client.get(f"/job/{n}")
    if mode == "fork":
        pid = os.fork()
        if pid == 0:
            client.get("/job/100")
            client.get("/job/101")
            sys.exit(0)
        os.waitpid(pid, 0)
    if mode in ("chained", "default"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)
        print("not stopped", flush=True)
    """
)


def _run(tmp_path: Path, mode: str, base_url: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "service.py"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, str(script), mode, base_url],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _paths(receiver) -> list[str]:
    return sorted(s.attributes["url.path"] for s in receiver.spans())


def test_queue_flushed_at_normal_exit(tmp_path, receiver):
    done = _run(tmp_path, "exit", receiver.base_url)
    assert done.returncode == 0, done.stderr
    assert _paths(receiver) == ["/job/0", "/job/1", "/job/2"]


def test_sigterm_flushes_then_the_default_action_stops_the_process(tmp_path, receiver):
    done = _run(tmp_path, "default", receiver.base_url)
    assert done.returncode == -signal.SIGTERM
    assert _paths(receiver) == ["/job/0", "/job/1", "/job/2"]


def test_sigterm_flushes_then_the_apps_own_handler_runs(tmp_path, receiver):
    done = _run(tmp_path, "chained", receiver.base_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the app's own handler ran"]
    assert _paths(receiver) == ["/job/0", "/job/1", "/job/2"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs os.fork")
def test_a_forked_child_exports_its_own_spans_once(tmp_path, receiver):
    done = _run(tmp_path, "fork", receiver.base_url)
    assert done.returncode == 0, done.stderr
    assert _paths(receiver) == ["/job/0", "/job/1", "/job/100", "/job/101", "/job/2"]
