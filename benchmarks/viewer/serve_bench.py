"""How fast `traced-http serve` is ready on a large log, its memory, and its page times.

Starts the real command on a free port against a log made by generate.py, waits until
the whole file is indexed, then times each page over HTTP (median of several requests).
Linux only (peak memory comes from /proc).

    python benchmarks/viewer/generate.py --events 1000000 -o /tmp/events.log
    python benchmarks/viewer/serve_bench.py /tmp/events.log
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _get(url: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        body: bytes = response.read()
    return time.perf_counter() - started, body


def _peak_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def _median_ms(url: str, rounds: int) -> float:
    return statistics.median(_get(url)[0] for _ in range(rounds)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--no-list", action="store_true", help="skip timing `traced-http list` on the same file"
    )
    args = parser.parse_args()
    size_mb = args.log.stat().st_size / 1e6
    list_s = None
    if not args.no_list:
        # The reference on the same machine at the same time: the streaming `list` command.
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "traced_http", "list", "-q", str(args.log)],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        list_s = time.perf_counter() - started
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "traced_http", "serve", "--port", "0", "-q", str(args.log)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split()[2]
        first_list, _ = _get(url)
        listening = time.perf_counter() - started
        status: dict[str, object] = {"loading": True}
        while status["loading"]:
            time.sleep(0.05)
            status = json.loads(_get(url + "api/status")[1])
        loaded = time.perf_counter() - started
        peak = _peak_mb(server.pid)
        body = _get(url + "?slower=40")[1].decode()
        trace_id = re.search(r"/trace\?id=([0-9a-f]+)", body)
        assert trace_id is not None, "no trace in the list"
        pages = {
            "list (newest 200 of all)": url,
            "list, filtered (slower than 40 ms)": url + "?slower=40",
            "list, text search (a trace id prefix)": url + "?q=" + trace_id.group(1)[:12],
            "trace page": url + "trace?id=" + trace_id.group(1),
            "route stats": url + "stats",
        }
        rounds = {
            name: args.rounds if "trace" in name else max(3, args.rounds // 4) for name in pages
        }
        times = {name: _median_ms(page, rounds[name]) for name, page in pages.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(
        f"input: {args.log} ({size_mb:,.0f} MB, {status['events']:,} events, "
        f"{status['traces']:,} traces); {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print(
        f"listening, first list page answered: {listening:.2f} s "
        f"(first page {first_list * 1000:.0f} ms)"
    )
    print(f"whole file indexed:                  {loaded:.2f} s ({size_mb / loaded:.0f} MB/s)")
    print(f"peak memory (VmHWM):                 {peak:.0f} MB")
    if list_s is not None:
        print(f"traced-http list, same file:         {list_s:.2f} s ({loaded / list_s:.2f}x)")
    for name, ms in times.items():
        print(f"{name + ':':<38} {ms:8.1f} ms (median of {rounds[name]})")


if __name__ == "__main__":
    main()
