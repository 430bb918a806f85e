"""Where the benchmark commands write: a local run never changes tracked files and leaves
no temporary files behind; only ``--save`` updates the tracked results."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "benchmarks" / "results" / "local"
TRACKED = [
    ROOT / "benchmarks" / "results" / "latest.md",
    ROOT / "benchmarks" / "viewer" / "RESULTS.md",
]


def _run(argv: list[str], tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done


def _git_ignores(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=ROOT).returncode == 0


@pytest.fixture
def tracked_unchanged():
    before = [path.read_bytes() for path in TRACKED]
    yield
    assert [path.read_bytes() for path in TRACKED] == before


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to ask what is ignored")
def test_the_local_results_folder_is_ignored_by_git():
    assert _git_ignores(LOCAL / "latest.md")


def test_a_local_benchmark_run_writes_to_the_ignored_folder(tmp_path, tracked_unchanged):
    pytest.importorskip("opentelemetry.instrumentation.requests", reason="needs the bench extra")

    done = _run(["-m", "benchmarks.run", "--quick", "--parts", "outbound"], tmp_path)

    assert f"written to {LOCAL / 'latest.md'}" in done.stderr
    assert "traced_http.TracedSession" in (LOCAL / "latest.md").read_text()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(
    not Path("/usr/bin/time").exists(), reason="needs GNU time (apt-get install time)"
)
def test_the_viewer_benchmark_removes_its_generated_log(tmp_path, tracked_unchanged):
    done = _run(["benchmarks/viewer/bench.py", "--events", "500", "--repeat", "1"], tmp_path)

    assert f"wrote {LOCAL / 'viewer.md'}" in done.stdout
    assert "generating 500 events into " + str(tmp_path) in done.stdout
    assert list(tmp_path.iterdir()) == []
