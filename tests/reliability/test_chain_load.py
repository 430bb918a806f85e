"""Load: A -> B -> C under gunicorn, many requests at once, then the three logs.

Every request must appear in every service exactly once (one ``start``, one ``end``,
and one ``call`` in A and B), every event in its own chain and no other, every B and C
``start`` under its caller's ``call`` span, and ``trace_index`` 1..k within each request,
whatever the worker kind: processes (``sync``), threads (``gthread``), greenlets
(``gevent``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pytest
from chain_audit import FAULTS, OVERLAP, audit_run, figures_table
from chain_services import WORKER_KINDS, running_chain
from load_driver import drive, plan

CI_REQUESTS = 500
SOAK_REQUESTS = 20_000
# Generous bounds (about 10x what a 2-core machine needs), so that only a hang fails on time.
CI_DEADLINE = 120.0
SOAK_DEADLINE = 1800.0


def check_chain_load(
    kind: str, count: int, deadline: float, directory: Path, record: Callable[..., None]
) -> None:
    """Drive ``count`` requests through the chain, stop it, audit the logs, record the figures."""
    sent = plan(count)
    with running_chain(kind, directory) as services:
        started = time.monotonic()
        answers = drive(services["A"].url, sent, started + deadline)
        seconds = time.monotonic() - started
    # The services have stopped: every event line is on disk.
    audit = audit_run(answers, {name: s.event_files() for name, s in services.items()})
    figures: dict[str, object] = dict(audit.figures)
    figures["seconds"] = round(seconds, 1)
    figures["req/s"] = round(count / seconds)
    record(f"{kind} x{count}", figures)
    print(f"\n{figures_table({kind: figures})}")
    outputs = [f"-- {name} (gunicorn):\n{s.output_tail(1500)}" for name, s in services.items()]
    assert audit.faults() == dict.fromkeys(FAULTS, 0), "\n".join(audit.problems + outputs)
    assert audit.figures["requests"] == count
    if kind != "sync":
        # Else the run proved nothing about keeping concurrent requests' traces apart.
        assert audit.figures[OVERLAP] >= 2, "no worker had two requests in hand at once"


@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_chain_under_load_logs_each_request_once_in_its_own_trace(
    kind: str, tmp_path: Path, record_run: Callable[..., None]
) -> None:
    check_chain_load(kind, CI_REQUESTS, CI_DEADLINE, tmp_path, record_run)


@pytest.mark.soak
@pytest.mark.parametrize("kind", WORKER_KINDS)
def test_soak_chain_under_load_logs_each_request_once_in_its_own_trace(
    kind: str, tmp_path: Path, record_run: Callable[..., None]
) -> None:
    check_chain_load(kind, SOAK_REQUESTS, SOAK_DEADLINE, tmp_path, record_run)
