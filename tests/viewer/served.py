"""Logs from a real failing chain, and `traced-http serve` run on them as a user runs it.

The chain: gateway POST /checkout -> orders POST /orders -> billing POST /charge, three
Flask apps with Tracing on real sockets. billing raises RuntimeError("card declined") for
large amounts, so orders and gateway fail because of it; amount 50 is slow in billing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import requests
from flask import Flask, request

import traced_http as traced
from flask_hooks import Tracing
from traced_http.testing import capture_events, serve_app

AMOUNTS = (10, 500, 50, 20)  # ok, declined, slow, ok
SLOW_S = 1.0


def _apps(billing_url: list[str], orders_url: list[str]) -> tuple[Flask, Flask, Flask]:
    gateway, orders, billing = Flask("gateway"), Flask("orders"), Flask("billing")
    for app in (gateway, orders, billing):
        Tracing(app)

    @billing.post("/charge")
    def charge() -> dict[str, Any]:
        amount = request.get_json()["amount"]
        if amount == 50:
            time.sleep(SLOW_S)  # the slow hop the list's "slower than" filter must find
        if amount > 100:
            raise RuntimeError("card declined")
        return {"charged": amount}

    @orders.post("/orders")
    def order() -> dict[str, Any]:
        traced.add_event("basket-priced", {"amount": request.get_json()["amount"]})
        answer = traced.post(f"{billing_url[0]}/charge", json=request.get_json(), timeout=10)
        answer.raise_for_status()
        return {"order": 1}

    @gateway.post("/checkout")
    def checkout() -> tuple[dict[str, Any], int]:
        answer = traced.post(f"{orders_url[0]}/orders", json=request.get_json(), timeout=10)
        return {"ok": answer.ok}, 200 if answer.ok else 502

    return gateway, orders, billing


def write_chain_logs(folder: Path) -> dict[int, str]:
    """Run the chain once per amount; one log file per service. Returns amount -> trace id."""
    billing_url: list[str] = []
    orders_url: list[str] = []
    gateway, orders, billing = _apps(billing_url, orders_url)
    ids: dict[int, str] = {}
    with ExitStack() as stack:
        billing_url.append(stack.enter_context(serve_app(billing)))
        orders_url.append(stack.enter_context(serve_app(orders)))
        gateway_url = stack.enter_context(serve_app(gateway))
        with capture_events() as events:
            for amount in AMOUNTS:
                # A plain client, as a browser or curl would be: gateway's span is the root.
                answer = requests.post(
                    f"{gateway_url}/checkout", json={"amount": amount}, timeout=10
                )
                assert answer.status_code == (502 if amount > 100 else 200)
                ids[amount] = answer.headers["traceid"]
    by_service: dict[str, list[str]] = {}
    for event in events:
        by_service.setdefault(event["service"], []).append(json.dumps(event))
    folder.mkdir(parents=True, exist_ok=True)
    for service, lines in by_service.items():
        (folder / f"{service}.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


class Served:
    """A running `traced-http serve` subprocess and its URL."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str, host: str | None = None) -> tuple[int, str]:
        """GET a page; returns its status and text."""
        req = urllib.request.Request(self.url + path.lstrip("/"))
        if host is not None:
            req.add_header("Host", host)
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8")

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.get("/api/status")[1])
        return result

    def wait_for(self, condition: Any, what: str, timeout: float = 10.0) -> None:
        """Poll `condition()` until it is true; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


def _first_line(stream: IO[str], timeout: float) -> str:
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not line:
        raise AssertionError("traced-http serve printed no URL")
    return line[0]


@contextmanager
def serve(
    *arguments: str, stdin: int | None = None, env: dict[str, str] | None = None
) -> Iterator[Served]:
    """Start `traced-http serve --port 0 ARGUMENTS` and wait until it has read its inputs."""
    process = subprocess.Popen(
        [sys.executable, "-m", "traced_http", "serve", "--port", "0", "-q", *arguments],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    try:
        assert process.stdout is not None
        first = _first_line(process.stdout, 15)
        assert first.startswith("traced-http serve: http://127.0.0.1:"), first
        served = Served(process, first.split()[2])
        served.wait_for(lambda: not served.status()["loading"], "the logs to be read")
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
