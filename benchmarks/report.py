"""Result tables, target checks, machine description and the Markdown rendering."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"  # tracked: written with --save
LOCAL_RESULTS = RESULTS / "local"  # a local run's, ignored by git


def publish(text: str, name: str, *, save: bool = False, output: Path | None = None) -> Path:
    """Print a report and write it: to ``output``, else ``results/NAME`` with ``--save``,
    else the ignored ``results/local/NAME``, so that a local run never changes tracked files."""
    path = output or (RESULTS if save else LOCAL_RESULTS) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {path}", file=sys.stderr)
    return path


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_markdown(self) -> str:
        lines = [f"### {self.title}", ""]
        lines.append("| " + " | ".join(self.columns) + " |")
        lines.append("|" + "|".join("---" for _ in self.columns) + "|")
        lines.extend("| " + " | ".join(row) + " |" for row in self.rows)
        lines.extend(["", *(f"- {note}" for note in self.notes)] if self.notes else [])
        return "\n".join(lines)


@dataclass
class Target:
    """One benchmark goal: ``passed`` is None when it could not be measured."""

    goal: str
    measured: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


def targets_table(targets: list[Target]) -> Table:
    table = Table("Targets (ratios from the same run)", ["goal", "measured", "result"])
    table.rows = [[t.goal, t.measured, t.verdict] for t in targets]
    return table


def us(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "FAIL", None: "n/a"}[passed]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def load_average() -> str:
    """The 1-minute load average: above the core count, other work shared the machine."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "unknown"


def machine_lines() -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "flask",
            "werkzeug",
            "requests",
            "urllib3",
            "gunicorn",
            "opentelemetry-sdk",
            "opentelemetry-instrumentation-flask",
            "flask-3-log-request-id",
            "traced-http",
        )
    )
    return [
        f"- date: {now}; commit: {_git_commit()}",
        f"- machine: {os.cpu_count()} CPUs (nproc), {_cpu_model()}, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
        f"- {versions}",
    ]


def render(title: str, command: str, tables: list[Table], targets: list[Target], load: str) -> str:
    parts = [f"## {title}", "", f"Command: `{command}`", "", *machine_lines()]
    parts += [f"- load average (1 min) at start → end: {load} → {load_average()}", ""]
    parts.append(targets_table(targets).to_markdown())
    for table in tables:
        parts.extend(["", table.to_markdown()])
    return "\n".join(parts) + "\n"
