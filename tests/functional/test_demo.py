"""The README's demo command: runs, draws both traces, stops its servers, runs again."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def test_the_demo_runs_twice_in_a_row_even_with_a_port_taken():
    with socket.create_server(("127.0.0.1", 5000 if _free(5000) else 0)):
        runs = [
            subprocess.run([sys.executable, str(DEMO)], capture_output=True, text=True, timeout=60)
            for _ in range(2)
        ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "GET /test" in run.stdout and "POST /test2" in run.stdout
        assert run.stdout.count("call GET http://127.0.0.1:") == 2
        assert run.stdout.count('"event_des": "start"') == 1  # one event shown in full
        short = [
            line.split()
            for line in run.stdout.splitlines()
            if line.startswith(tuple("0123456789abcdef"))
        ]
        assert sorted(
            (words[2], words[3]) for words in short if words[3] in ("start", "end")
        ) == sorted(
            [("gateway", "start"), ("gateway", "end"), ("hello", "start"), ("hello", "end")] * 2
        )
        assert max(map(len, run.stdout.splitlines())) <= 160  # it reads at a glance


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0
