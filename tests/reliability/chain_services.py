"""Run the A -> B -> C chain under gunicorn on 127.0.0.1, one worker kind at a time.

``running_chain(kind, directory)`` starts C, then B, then A (each one's ``NEXT_URL`` is
the one started before), waits until each answers, yields them, and stops them all on
the way out, also when the test failed. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from chain_app import READY_PATH

HERE = Path(__file__).resolve().parent
SERVICES = ("A", "B", "C")
# With sync workers A blocks a whole process on its call to B: B and C get more
# processes than A has, so that every call from above finds a free worker.
WORKER_ARGS: dict[str, dict[str, tuple[str, ...]]] = {
    "sync": {
        "A": ("-k", "sync", "-w", "2"),
        "B": ("-k", "sync", "-w", "4"),
        "C": ("-k", "sync", "-w", "4"),
    },
    "gthread": dict.fromkeys(SERVICES, ("-k", "gthread", "-w", "2", "--threads", "4")),
    "gevent": dict.fromkeys(SERVICES, ("-k", "gevent", "-w", "2")),
}
WORKER_KINDS = tuple(WORKER_ARGS)
START_ATTEMPTS = 3
READY_DEADLINE = 30.0
STOP_DEADLINE = 20.0


@dataclass
class Service:
    """One running gunicorn master and the files its workers write."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    event_log: Path
    output: Path

    def event_files(self) -> list[Path]:
        """The event logs of every worker process this service ran."""
        return sorted(self.event_log.parent.glob(self.event_log.name + ".*"))

    def output_tail(self, size: int = 3000) -> str:
        """The end of gunicorn's own output, for failure messages."""
        try:
            return self.output.read_text(errors="replace")[-size:]
        except OSError:
            return ""


@contextmanager
def running_chain(kind: str, directory: Path) -> Iterator[dict[str, Service]]:
    """A, B and C under gunicorn with worker ``kind``; stopped (bounded) however the block ends."""
    started: list[Service] = []
    try:
        next_url: str | None = None
        for name in reversed(SERVICES):
            service = start_service(name, kind, next_url, directory)
            started.append(service)
            next_url = service.url
        yield {service.name: service for service in started}
    finally:
        stop_services(started)


def start_service(name: str, kind: str, next_url: str | None, directory: Path) -> Service:
    """Start one service on a free port, retrying on another port if the port was taken."""
    failures = []
    for attempt in range(START_ATTEMPTS):
        port = free_port()
        output = directory / f"{name}.gunicorn.{attempt}.out"
        event_log = directory / f"{name}.events"
        with output.open("wb") as sink:
            process = _spawn(name, kind, port, next_url, event_log, sink)
        service = Service(name, f"http://127.0.0.1:{port}", process, event_log, output)
        if wait_ready(service, time.monotonic() + READY_DEADLINE):
            return service
        stop_services([service])
        failures.append(f"attempt {attempt + 1} on port {port}:\n{service.output_tail()}")
    raise RuntimeError(f"gunicorn for {name} ({kind}) did not start:\n" + "\n".join(failures))


def _spawn(
    name: str,
    kind: str,
    port: int,
    next_url: str | None,
    event_log: Path,
    sink: IO[bytes],
) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "GUNICORN_CMD_ARGS"}
    env.update(
        SERVICE_NAME=name,
        NEXT_URL=next_url or "",
        EVENT_LOG=str(event_log),
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        *WORKER_ARGS[kind][name],
        "--pythonpath",
        str(HERE),
        "--timeout",
        "60",
        "--graceful-timeout",
        "10",
        # gunicorn closes a kept-alive connection after 2 idle seconds by default; a call
        # sent on it just then fails (see test_pooled_connections.py). Longer than the
        # run, so that the load test counts tracing faults, not that race.
        "--keep-alive",
        "300",
        "--log-level",
        "warning",
        "--error-logfile",
        "-",
        "chain_app:create_app()",
    ]
    # cwd: the test's directory, so that no gunicorn.conf.py lying around is picked up.
    return subprocess.Popen(
        command, cwd=event_log.parent, env=env, stdout=sink, stderr=subprocess.STDOUT
    )


def free_port() -> int:
    """A port free now; another process may take it before gunicorn binds it (then: retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(service: Service, deadline: float) -> bool:
    """True once the service itself answers on its port; False if it exited or timed out.

    The answer must name the service, so a stranger that took the port is not mistaken
    for it. Between tries the wait is on the process, so an exit ends it at once.
    """
    client = loopback_session()
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            return False
        try:
            answer = client.get(service.url + READY_PATH, timeout=1.0)
            if answer.status_code == 200 and answer.json().get("service") == service.name:
                return True
        except (requests.RequestException, ValueError):
            pass
        with suppress(subprocess.TimeoutExpired):
            service.process.wait(timeout=0.05)
    return False


def loopback_session() -> requests.Session:
    """A plain, untraced client that ignores proxy settings of the environment."""
    session = requests.Session()
    session.trust_env = False
    return session


def stop_services(services: list[Service]) -> None:
    """SIGTERM to every master (they stop their workers), then wait; SIGKILL what is left."""
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_DEADLINE
    for service in services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait(timeout=STOP_DEADLINE)
