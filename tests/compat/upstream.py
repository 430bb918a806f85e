"""Fetch an installed library's own test suite from its sdist, and run it with tracing on.

The sdist of the *installed* version is downloaded once by pip (the only network use)
into ``TRACED_HTTP_COMPAT_CACHE`` (default ``~/.cache/traced-http-compat``); its tests
then run offline, in a child pytest, with ``compat_plugin`` switching tracing on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUN_LIMIT = 1200  # seconds: a suite that hangs fails the run instead of CI's whole budget
SUMMARY: list[str] = []  # one line per run, shown at the end of the session


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "traced-http-compat"
    path = Path(os.environ.get("TRACED_HTTP_COMPAT_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_tree(project: str) -> Path:
    """The unpacked sdist of the installed ``project`` (its ``tests/`` included)."""
    release = version(project)
    cache = cache_dir()
    tree = cache / f"{project}-{release}"
    if (tree / "tests").is_dir():
        return tree
    archive = cache / f"{project}-{release}.tar.gz"
    if not archive.exists():
        subprocess.run(
            [
                *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
                *("--no-binary", ":all:", "--dest", str(cache), f"{project}=={release}"),
            ],
            check=True,
            timeout=600,
        )
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(cache, filter="data")
        else:  # Python < 3.12, without extraction filters: PyPI's own archive
            tar.extractall(cache)
    return tree


@dataclass
class Run:
    """One run of an upstream suite: each test's outcome, and the event lines logged."""

    outcomes: dict[str, str]
    event_lines: list[str]
    output: str

    def ids(self, outcome: str) -> set[str]:
        return {test for test, got in self.outcomes.items() if got == outcome}

    def counts(self) -> str:
        return ", ".join(
            f"{len(self.ids(outcome))} {outcome}"
            for outcome in ("passed", "failed", "skipped", "xfailed", "xpassed")
        )


def run_suite(tree: Path, mode: str, workdir: Path, deselect: set[str]) -> Run:
    """Run the suite in ``tree`` under ``mode`` (see ``compat_plugin``), with its own config."""
    outcomes_file = workdir / f"{mode}-outcomes.json"
    events_file = workdir / f"{mode}-events.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
        "TRACED_HTTP_COMPAT_MODE": mode,
        "TRACED_HTTP_COMPAT_EVENTS": str(events_file),
        "TRACED_HTTP_COMPAT_OUTCOMES": str(outcomes_file),
    }
    command = [
        *(sys.executable, "-m", "pytest", "-p", "compat_plugin", "-p", "no:cacheprovider"),
        *("-q", "-rfE", "--tb=short", "tests"),
    ]
    for test in sorted(deselect):
        command += ["--deselect", test]
    done = subprocess.run(
        command,
        cwd=tree,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=RUN_LIMIT,
        check=False,
    )
    if not outcomes_file.exists():
        raise RuntimeError(f"the {mode} run of {tree.name} did not finish:\n{done.stdout[-5000:]}")
    outcomes = json.loads(outcomes_file.read_text(encoding="utf-8"))
    lines = events_file.read_text(encoding="utf-8").splitlines() if events_file.exists() else []
    return Run(outcomes, lines, done.stdout)
