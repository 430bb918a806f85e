"""The load driver: N requests to the top of the chain, 32 at a time, each its own trace.

Plain ``requests``, no tracing on the driver. Most requests bring a unique valid
``traceid``; some bring none, some an invalid one (a tab and spaces inside, or 300
characters). Each answer's echoed ``traceid`` names the chain the request started, so
the logs can be matched to requests afterwards.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import requests
from chain_app import CHAIN_PATH
from chain_services import loopback_session

CONCURRENCY = 32
CLIENT_TIMEOUT = (5.0, 60.0)
BAD_ID = "bad id\twith spaces"
LONG_ID = "x" * 300
# Out of every 20 requests: one without a header, one with each kind of invalid id.
_INVALID = {0: ("none", None), 1: ("bad", BAD_ID), 2: ("long", LONG_ID)}


@dataclass(frozen=True)
class Sent:
    """What request ``n`` sent: ``kind`` is valid, none, bad or long."""

    n: int
    kind: str
    traceid: str | None


@dataclass(frozen=True)
class Answer:
    """What came back for one request (``error`` when no response came at all)."""

    sent: Sent
    status: int | None = None
    echoed: str | None = None
    body: Any = None
    error: str | None = None


def plan(count: int) -> list[Sent]:
    """``count`` requests: 85% with a fresh valid id, 5% each without one, bad, too long."""
    sent = []
    for n in range(count):
        kind, value = _INVALID.get(n % 20, ("valid", uuid.uuid4().hex))
        sent.append(Sent(n, kind, value))
    return sent


def drive(base_url: str, requests_to_send: list[Sent], deadline: float) -> list[Answer]:
    """Send every request with ``CONCURRENCY`` threads; raise if the run outlives ``deadline``.

    A request that fails (no answer, timeout) is recorded as such, not raised: the audit
    counts it.
    """
    local = threading.local()
    url = base_url + CHAIN_PATH

    def send(sent: Sent) -> Answer:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = loopback_session()
        headers = {} if sent.traceid is None else {"traceid": sent.traceid}
        try:
            response = client.get(
                url, params={"n": sent.n}, headers=headers, timeout=CLIENT_TIMEOUT
            )
            try:
                body = response.json()
            except ValueError:
                body = None
            return Answer(sent, response.status_code, response.headers.get("traceid"), body)
        except requests.RequestException as exc:
            return Answer(sent, error=f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="load") as pool:
        futures = [pool.submit(send, sent) for sent in requests_to_send]
        _, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()))
        if pending:
            for future in pending:
                future.cancel()
            raise TimeoutError(
                f"load run exceeded its deadline: {len(pending)} of {len(futures)} "
                "requests not answered"
            )
        return [future.result() for future in futures]
