"""`traced-http doctor` on logs of real chains with planted faults, and on written logs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from real_chain_logs import Faults, run_chain, write_per_service
from viewer_logs import Chain, write_log

from traced_http.viewer.doctor import Doctor, Finding


def doctor(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "traced_http", "doctor", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def findings_of(events: list[dict]) -> list[Finding]:
    found = Doctor()
    found.add_all(events)
    return found.findings()


def test_a_healthy_chain_has_no_findings(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    events = run_chain(make_app, Faults(reserve=True), checkouts=3)
    result = doctor(write_per_service(events, tmp_path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("no propagation problems found in ")


def test_planted_faults_are_each_found_once(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    faults = Faults(proxy_drops_headers=True, untraced_client=True, billing_skew=2.0)
    events = run_chain(make_app, faults, checkouts=3)
    trace_ids = {e["traceid"] for e in events}
    found = {f.kind: f for f in findings_of(events)}
    assert sorted(found) == ["clocks disagree", "context lost", "untraced client"]

    lost = found["context lost"]  # the proxy between gateway and orders drops the headers
    assert (lost.service, lost.route, lost.count) == ("orders", "GET /orders/{id}", 3)
    assert "gateway GET /checkout/{id} calls it" in lost.message

    untraced = found["untraced client"]  # orders calls inventory with plain requests
    assert (untraced.service, untraced.route, untraced.count) == ("orders", "GET /orders/{id}", 3)
    assert untraced.message.startswith("inventory GET /stock/{id} arrives with no trace context")
    caller_trace, lone_trace = untraced.examples  # the caller's trace, then the lone request's
    assert {e["service"] for e in events if e["traceid"] == caller_trace} >= {"orders"}
    assert {e["service"] for e in events if e["traceid"] == lone_trace} == {"inventory"}

    skew = found["clocks disagree"]  # billing's clock is 2 s ahead
    assert (skew.service, skew.route, skew.count) == ("billing", "POST /charge", 3)
    assert "billing's clock runs about 2,0" in skew.message and "ahead of gateway's" in skew.message

    for finding in found.values():
        assert set(finding.examples or [finding.example]) <= trace_ids

    result = doctor(write_per_service(events, tmp_path))
    assert result.returncode == 3, result.stderr
    assert result.stdout.startswith("3 findings in ")
    assert "[context lost] orders GET /orders/{id}" in result.stdout
    assert f"example: trace {skew.example}" in result.stdout


def test_withheld_calls_and_changed_ids(tmp_path: Path) -> None:
    c = Chain()
    first, second = "a" * 32, "b" * 32
    for n, trace in enumerate((first, second)):
        root = c.request("gateway", "GET", "/pay", trace=trace, start=n, duration=0.3)
        c.call(
            "gateway",
            "POST",
            "http://psp.example/charge",
            trace=trace,
            parent=root,
            start=n + 0.01,
            duration=0.1,
        )
        c.events[-1]["msg_dict"]["propagated"] = False
        to_ledger = c.call(
            "gateway",
            "GET",
            "http://ledger.internal/entries/7",
            trace=trace,
            parent=root,
            start=n + 0.15,
            duration=0.1,
        )
        # The ledger continues the call's span, but under another trace id.
        c.request(
            "ledger",
            "GET",
            "/entries/7",
            trace=f"{n}" * 32,
            parent=to_ledger,
            start=n + 0.16,
            duration=0.05,
        )
    found = {f.kind: f for f in findings_of(c.events)}
    assert sorted(found) == ["id changed", "withheld by propagate_to"]
    withheld = found["withheld by propagate_to"]
    assert (withheld.service, withheld.route, withheld.count) == ("gateway", "GET /pay", 2)
    assert "psp.example" in withheld.message
    changed = found["id changed"]
    assert (changed.service, changed.route, changed.count) == ("ledger", "GET /entries/{id}", 2)
    assert changed.examples == [first, "0" * 32]

    result = doctor([write_log(tmp_path / "all.log", c.lines())])
    assert result.returncode == 3 and "[withheld by propagate_to] gateway GET /pay" in result.stdout


def test_one_request_without_context_is_not_a_pattern() -> None:
    c = Chain()
    root = c.request("gateway", "GET", "/slow", trace="a" * 32, start=0.0, duration=5.0)
    c.call(  # an outside API, answered, whose server is not traced
        "gateway",
        "GET",
        "http://api.example/rates",
        trace="a" * 32,
        parent=root,
        start=0.5,
        duration=4.0,
    )
    for n in range(4):  # clients of inventory, only one of them during gateway's request
        c.request("inventory", "GET", "/stock/1", trace=f"{n}" * 32, start=n * 4.0, duration=0.1)
    (finding,) = findings_of(c.events)
    assert (finding.kind, finding.service, finding.route) == (
        "no downstream start",
        "gateway",
        "GET /slow",
    )
    assert "calls api.example and gets answers" in finding.message
