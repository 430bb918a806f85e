"""Time `traced-http list` and `show` on a large log next to wc -l, grep and jq.

    python benchmarks/viewer/bench.py                  # 1,000,000 events
    python benchmarks/viewer/bench.py --events 200000 --repeat 1
    python benchmarks/viewer/bench.py --save           # update the tracked RESULTS.md

Results go to benchmarks/results/local/viewer.md (ignored by git), or with --save to
benchmarks/viewer/RESULTS.md. The log is generated (benchmarks/viewer/generate.py) into a
temporary folder that is removed at the end; give --file to keep it and reuse it. Each
command runs as its own process, timed by wall clock, with its peak memory (max RSS) read
from wait4; the figure kept is the best of --repeat runs, after one warm-up read of the
file so that every tool reads from the page cache. Aims: `show` within 3x grep,
`list` over 50 MB/s, peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TIME = "/usr/bin/time"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOCAL_RESULTS = ROOT / "benchmarks" / "results" / "local"  # ignored by git
# `show` timed inside the process: what the viewer costs beyond starting Python and
# importing traced_http.
IN_PROCESS = (
    "import sys, time\n"
    "from traced_http.viewer.cli import main\n"
    "began = time.perf_counter()\n"
    "main(sys.argv[1:])\n"
    "sys.stderr.write(f'IN_PROCESS {time.perf_counter() - began}\\n')\n"
)


@dataclass
class Result:
    name: str
    command: str
    seconds: float
    peak_mb: float


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB and stderr of one run of `argv`.

    The peak comes from GNU time: a high-water mark survives exec, so measuring a child
    forked from this Python process would count this process's memory too.
    """
    began = time.perf_counter()
    result = subprocess.run(
        [TIME, "-f", "PEAK_KB %M", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(argv)}\n{result.stderr}")
    peak_kb = next(
        int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_KB")
    )
    return seconds, peak_kb / 1024, result.stderr


@dataclass
class Runs:
    """Every timed run of one tool, in round order."""

    name: str
    command: str
    seconds: list[float]
    peaks: list[float]

    def result(self) -> Result:
        return Result(self.name, self.command, min(self.seconds), max(self.peaks))


def measure(name: str, argv: list[str], env: dict[str, str], runs: Runs) -> None:
    seconds, peak, err = run(argv, env)
    if name == "traced-http show (in-process)":
        seconds = next(
            float(line.split()[1]) for line in err.splitlines() if line.startswith("IN_PROCESS")
        )
    runs.seconds.append(seconds)
    runs.peaks.append(peak)
    print(f"  {name:<32} {seconds:8.3f} s  {peak:7.1f} MB", flush=True)


def trace_id_in_middle(path: Path, lines: int) -> str:
    with path.open("rb") as log:
        for number, line in enumerate(log):
            if number >= lines // 2 and b'"event_des"' in line:
                try:
                    return str(json.loads(line)["traceid"])
                except ValueError:
                    continue
    raise SystemExit(f"no event found in {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description="traced-http viewer benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--file", type=Path, help="log to read, generated if missing and kept (default: temporary)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", type=Path, help="Markdown file to write")
    parser.add_argument(
        "--save", action="store_true", help="write the tracked benchmarks/viewer/RESULTS.md"
    )
    args = parser.parse_args()
    if args.results is None:
        args.results = HERE / "RESULTS.md" if args.save else LOCAL_RESULTS / "viewer.md"
    if not Path(TIME).exists():
        raise SystemExit(f"{TIME} (GNU time) is needed for peak memory: apt-get install time")
    if args.file is not None:
        bench(args)
        return
    with tempfile.TemporaryDirectory(prefix="traced-http-bench-") as folder:
        args.file = Path(folder) / "events.log"
        bench(args)


def bench(args: argparse.Namespace) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    if not args.file.exists():
        args.file.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating {args.events:,} events into {args.file} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(HERE / "generate.py"),
                "--events",
                str(args.events),
                "-o",
                str(args.file),
            ],
            check=True,
        )
    size_mb = args.file.stat().st_size / 1e6
    with args.file.open("rb") as log:  # warm the page cache, count lines
        lines = sum(block.count(b"\n") for block in iter(lambda: log.read(1 << 22), b""))
    trace_id = trace_id_in_middle(args.file, lines)
    log_path = str(args.file)
    print(f"{log_path}: {size_mb:,.0f} MB, {lines:,} lines; show {trace_id}", flush=True)

    viewer = [sys.executable, "-m", "traced_http"]
    plan: list[tuple[str, list[str], str]] = [
        ("wc -l", ["wc", "-l", log_path], "wc -l FILE"),
        ("grep -F ID", ["grep", "-F", trace_id, log_path], "grep -F ID FILE"),
        ("traced-http list", [*viewer, "list", log_path], "traced-http list FILE"),
        ("traced-http show", [*viewer, "show", trace_id, log_path], "traced-http show ID FILE"),
        (
            "traced-http show (in-process)",
            [sys.executable, "-c", IN_PROCESS, "show", trace_id, log_path],
            "main(['show', ID, FILE]) after imports",
        ),
        ("traced-http stats", [*viewer, "stats", log_path], "traced-http stats FILE"),
    ]
    jq = shutil.which("jq")
    if jq:
        # -R with fromjson? skips the broken lines the log holds; plain `jq -c` stops there.
        query = f'fromjson? | select(.traceid=="{trace_id}")'
        plan.insert(2, ("jq select", [jq, "-cR", query, log_path], f"jq -cR '{query}' FILE"))
    load_before = os.getloadavg()[0]
    # Rounds run every tool once, so that a burst of other work on the machine hits all
    # of them alike; ratios are then taken within a round.
    all_runs = {name: Runs(name, shown, [], []) for name, _argv, shown in plan}
    for round_number in range(args.repeat):
        print(f"round {round_number + 1} of {args.repeat}", flush=True)
        for name, argv, _shown in plan:
            if name != "jq select" or round_number == 0:
                measure(name, argv, env, all_runs[name])
    load = (load_before, os.getloadavg()[0])
    show_ratios = sorted(
        show / grep
        for show, grep in zip(all_runs["traced-http show"].seconds, all_runs["grep -F ID"].seconds)
    )
    own_ratios = sorted(
        own / grep
        for own, grep in zip(
            all_runs["traced-http show (in-process)"].seconds, all_runs["grep -F ID"].seconds
        )
    )
    results = [runs.result() for runs in all_runs.values()]
    ratios = (show_ratios[len(show_ratios) // 2], own_ratios[len(own_ratios) // 2])
    write_results(args, results, size_mb, lines, trace_id, jq is not None, load, ratios)


def _cell(text: str) -> str:
    """Escape the pipes of a command so that it stays in one Markdown table cell."""
    return text.replace("|", "\\|")


def write_results(
    args: argparse.Namespace,
    results: list[Result],
    size_mb: float,
    lines: int,
    trace_id: str,
    have_jq: bool,
    load: tuple[float, float],
    ratios: tuple[float, float],
) -> None:
    by_name = {r.name: r for r in results}
    grep = by_name["grep -F ID"].seconds
    show = by_name["traced-http show"]
    listing = by_name["traced-http list"]
    peak = max(r.peak_mb for r in results if r.name.startswith("traced-http"))
    rows = "\n".join(
        f"| {r.name} | `{_cell(r.command)}` | {r.seconds:.3f} | {size_mb / r.seconds:,.0f} "
        f"| {r.peak_mb:,.1f} |"
        for r in results
    )
    in_process = by_name["traced-http show (in-process)"].seconds
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"""# Viewer benchmark results

Written by `python benchmarks/viewer/bench.py --save` on {when}.

- Input: {lines:,} lines, {size_mb:,.0f} MB ({args.events:,} events requested from 3 services,
  generated by `benchmarks/viewer/generate.py`), read from the page cache.
- Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},
  {platform.platform()}. Best of {args.repeat} rounds (jq: 1 run).
- Load average (1 min) {load[0]:.1f} before and {load[1]:.1f} after: other work on the
  machine slows every tool, grep included; compare the ratios rather than the seconds.
- `show` looks for trace `{trace_id}` (a trace from the middle of the file).
{"" if have_jq else "- jq is not installed: its column is skipped."}

| tool | command | seconds | MB/s | peak MB |
|---|---|---:|---:|---:|
{rows}

Aims:

- `show` within 3x `grep` (median of the per-round ratios): {ratios[0]:.1f}x
  ({"met" if ratios[0] <= 3 else "NOT met"}; best times {show.seconds:.3f} s vs {grep:.3f} s).
  The viewer's own work after start-up is {ratios[1]:.1f}x grep ({in_process:.3f} s at best);
  the rest is starting Python and importing `traced_http` and the viewer.
- `list` over 50 MB/s: {size_mb / listing.seconds:,.0f} MB/s
  ({"met" if size_mb / listing.seconds > 50 else "NOT met"}).
- Peak memory under 300 MB: {peak:,.0f} MB ({"met" if peak < 300 else "NOT met"}).
"""
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text, encoding="utf-8")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
