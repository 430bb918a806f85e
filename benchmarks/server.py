"""Part 3: the variants under a real server: gunicorn on 127.0.0.1, driven by wrk.

All the servers of one worker kind are started together and measured in interleaved
rounds. Two figures per variant: requests per second (as a ratio of bare Flask) and
the CPU time the gunicorn workers spent per request served (utime + stime from
/proc/PID/stat, before and after, over the requests wrk counted), which is the
steadier one on a small machine where wrk competes for the same cores.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.apps import LABELS, create_app
from benchmarks.config import Settings
from benchmarks.report import Table, Target, ratio, us

ROOT = Path(__file__).resolve().parent.parent
SERVER_VARIANTS = ("bare", "traced", "recipe", "flrid", "otel")
WORKER_KINDS = {
    "sync, 2 workers": ["-k", "sync", "-w", "2"],
    "gthread, 2 workers × 8 threads": ["-k", "gthread", "-w", "2", "--threads", "8"],
}
PATH = "/hello?name=bench"
_EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception): ")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def ensure_wrk() -> str | None:
    """Path of wrk, installing Debian's package if it is missing; None if that fails."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with `apt-get install -y wrk`", flush=True)
    apt = ["apt-get", "install", "-y", "-q", "wrk"]
    if os.geteuid() != 0 and shutil.which("sudo"):
        apt.insert(0, "sudo")
    result = subprocess.run(apt, capture_output=True, text=True)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True)
        subprocess.run(apt, capture_output=True, text=True)
    return shutil.which("wrk")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            # the command name may hold spaces and parentheses: split after the last ")"
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return sorted(kids)


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / CLOCK_TICKS


@dataclass
class Server:
    variant: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    workers: list[int] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    errors: int = 0

    def describe_failure(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines()
        errors = [line for line in lines if _EXCEPTION_LINE.match(line)]
        return f"gunicorn did not start: {(errors or lines or ['no output'])[0]}"


def _cannot_build(variant: str) -> str | None:
    """Why ``variant``'s app cannot be built (checked in-process, before gunicorn boots it)."""
    try:
        create_app(variant)
    except (ImportError, AttributeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _start(variant: str, kind_args: list[str], workdir: Path) -> Server:
    port = _free_port()
    log = workdir / f"gunicorn-{variant}.log"
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-b",
        f"127.0.0.1:{port}",
        *kind_args,
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        f"benchmarks.apps:create_app({variant!r})",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    return Server(variant, port, process, log)


def _wait_ready(server: Server, expected_workers: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(server.describe_failure())
        workers = _children(server.process.pid)
        if len(workers) == expected_workers and _responds(server.port):
            server.workers = workers
            return
        time.sleep(0.1)
    raise RuntimeError(server.describe_failure())


def _responds(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", PATH)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@contextlib.contextmanager
def _servers(kind_args: list[str]) -> Iterator[tuple[list[Server], list[str]]]:
    workers = int(kind_args[kind_args.index("-w") + 1])
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
        servers, failed = [], []
        try:
            for variant in SERVER_VARIANTS:
                reason = _cannot_build(variant)
                if reason:
                    failed.append(f"{LABELS[variant]}: {reason}")
                    continue
                server = _start(variant, kind_args, Path(tmp))
                try:
                    _wait_ready(server, workers)
                    servers.append(server)
                except RuntimeError as exc:
                    server.process.terminate()
                    server.process.wait(10)
                    failed.append(f"{LABELS[variant]}: {exc}")
            yield servers, failed
        finally:
            for server in servers:
                server.process.terminate()
            for server in servers:
                try:
                    server.process.wait(10)
                except subprocess.TimeoutExpired:
                    server.process.kill()


_WRK_REQUESTS = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m)")
_WRK_NON2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk(wrk: str, port: int, seconds: float, connections: int) -> tuple[int, float, int]:
    """Requests served, seconds, and errors of one wrk run (1 thread, keep-alive)."""
    result = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    match = _WRK_REQUESTS.search(result.stdout)
    if match is None:
        raise RuntimeError(f"cannot read wrk's output: {result.stdout!r}")
    errors = sum(int(n) for m in _WRK_NON2XX.finditer(result.stdout) for n in m.groups())
    socket_errors = _WRK_SOCKET.search(result.stdout)
    # a sync worker closes every connection: wrk counts those closes as read errors
    if socket_errors:
        errors += int(socket_errors.group(1)) + int(socket_errors.group(4))
    return int(match.group(1)), float(match.group(2)) * _UNIT[match.group(3)], errors


def run(settings: Settings) -> tuple[list[Table], list[Target]]:
    wrk = ensure_wrk()
    table = Table(
        f"Under gunicorn, wrk -t1 -c{settings.wrk_connections} GET {PATH}, "
        f"{settings.server_seconds:g} s per variant "
        f"in {settings.server_rounds} interleaved round(s)",
        [
            "worker kind",
            "variant",
            "requests/s",
            "× bare rps",
            "worker CPU µs/request",
            "added CPU µs/request",
            "errors",
        ],
    )
    if wrk is None:
        table.notes.append("not measured: wrk is missing and could not be installed")
        return [table], _targets({})
    results: dict[str, dict[str, Server]] = {}
    for kind, kind_args in WORKER_KINDS.items():
        with _servers(kind_args) as (servers, failed):
            table.notes.extend(f"{kind}: not measured: {reason}" for reason in failed)
            for server in servers:  # warm-up: imports, first requests, caches
                _wrk(wrk, server.port, 1, settings.wrk_connections)
            per_round = settings.server_seconds / settings.server_rounds
            for _ in range(settings.server_rounds):
                for server in servers:
                    cpu_before = _cpu_seconds(server.workers)
                    served, seconds, errors = _wrk(
                        wrk, server.port, per_round, settings.wrk_connections
                    )
                    server.cpu += _cpu_seconds(server.workers) - cpu_before
                    server.requests += served
                    server.seconds += seconds
                    server.errors += errors
            results[kind] = {server.variant: server for server in servers}
        _rows(table, kind, results[kind])
    table.notes.append(
        "CPU = utime + stime of the gunicorn worker processes from /proc/PID/stat "
        f"(resolution {1e6 / CLOCK_TICKS:.0f} µs per process) over the requests wrk counted"
    )
    return [table], _targets(results.get("sync, 2 workers", {}))


def _rows(table: Table, kind: str, servers: dict[str, Server]) -> None:
    bare = servers.get("bare")
    bare_rps = bare.requests / bare.seconds if bare and bare.seconds else None
    bare_cpu = bare.cpu / bare.requests * 1e6 if bare and bare.requests else None
    for variant in SERVER_VARIANTS:
        server = servers.get(variant)
        if server is None or not server.requests:
            table.rows.append([kind, LABELS[variant], *(["n/a"] * 5)])
            continue
        rps = server.requests / server.seconds
        cpu = server.cpu / server.requests * 1e6
        table.rows.append(
            [
                kind,
                LABELS[variant],
                f"{rps:.0f}",
                ratio(rps / bare_rps) if bare_rps else "n/a",
                us(cpu),
                us(cpu - bare_cpu) if bare_cpu is not None else "n/a",
                str(server.errors),
            ]
        )


def _targets(sync: dict[str, Server]) -> list[Target]:
    bare, traced = sync.get("bare"), sync.get("traced")
    if not (bare and traced and bare.requests and traced.requests):
        return [
            Target("gunicorn sync: traced-http ≥ 0.85 × bare rps", "n/a", None),
            Target("gunicorn sync: traced-http adds ≤ 45 µs CPU per request", "n/a", None),
        ]
    rps_ratio = (traced.requests / traced.seconds) / (bare.requests / bare.seconds)
    added = (traced.cpu / traced.requests - bare.cpu / bare.requests) * 1e6
    return [
        Target(
            "gunicorn sync: traced-http ≥ 0.85 × bare rps", f"{rps_ratio:.2f} ×", rps_ratio >= 0.85
        ),
        Target(
            "gunicorn sync: traced-http adds ≤ 45 µs CPU per request",
            f"{added:.1f} µs",
            added <= 45,
        ),
    ]
