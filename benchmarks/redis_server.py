"""A private ``redis-server`` on 127.0.0.1: the broker of the Celery benchmark and tests.

Debian's ``redis-server`` on a free port, persistence off, its files in a directory the
caller owns; stopped when the block ends.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["MISSING", "private_redis"]

MISSING = "redis-server is not installed (apt-get install redis-server)"


@contextlib.contextmanager
def private_redis(workdir: Path, timeout: float = 10.0) -> Iterator[str]:
    """Run a redis-server until the block ends; yields its URL (``redis://127.0.0.1:PORT/0``).

    Raises ``FileNotFoundError`` when redis-server is not installed, ``RuntimeError`` when
    it exits or does not answer ``PING`` within ``timeout`` seconds.
    """
    import redis

    server = shutil.which("redis-server")
    if server is None:
        raise FileNotFoundError(MISSING)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(workdir),
         "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {proc.returncode}")
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer PING within {timeout} s")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=10)
