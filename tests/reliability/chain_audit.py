"""Check the event logs of a load run against the requests that were sent.

Each request ``n`` started one chain, named by the id echoed on its answer; every service
logged the request it handled with the query ``n`` in its ``start``. From the logs alone:

- lost / extra: each service holds exactly one ``start`` and one ``end`` per chain (and A
  and B exactly one ``call``); a line that is not JSON counts as lost;
- mixed: an event carries an id other than its chain's: its request span, the span that
  called it, or the ``n`` of its start belongs to another chain (or to none);
- orphaned: an event whose span is nowhere: an ``end`` or ``call`` without the start of
  its request in that service, a B or C ``start`` without its parent ``call`` above;
- gaps: ``trace_index`` is not 1..k within a request handled by a service, ``start`` first
  and ``end`` last;
- misread: the start says the id came from elsewhere than it did, or an invalid id
  reached a log;
- failed: the answer itself was wrong (status, echoed id, the ids the services saw).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from load_driver import LONG_ID, Answer

SERVICES = ("A", "B", "C")
ABOVE = {"B": "A", "C": "B"}
EXPECTED = {
    "A": Counter(start=1, call=1, end=1),
    "B": Counter(start=1, call=1, end=1),
    "C": Counter(start=1, end=1),
}
FIGURES = ("requests", "events", "failed", "lost", "extra", "mixed", "orphaned", "gaps", "misread")
FAULTS = FIGURES[2:]
# Not a fault: the most requests one worker process handled at once (see read_events).
OVERLAP = "overlap"
_HEX32 = re.compile(r"[0-9a-f]{32}")
_LEAKS = ("bad id", LONG_ID[:200])
_EXAMPLES = 20


class Event(NamedTuple):
    """The fields of one logged event that the audit reads (a load run logs many)."""

    service: str
    traceid: str | None
    span_id: str | None
    parent_id: str | None
    index: Any
    des: str
    n: str | None = None
    id_source: str | None = None
    rejected: list[str] | None = None
    traceid_header: str | None = None
    time: float | None = None
    error: str | None = None

    @property
    def request_span(self) -> str | None:
        """The span of the request the event belongs to (a call's parent)."""
        return self.parent_id if self.des in ("call", "retry") else self.span_id


class Audit:
    """The figures of one run, and the first few problems behind them, for the message."""

    def __init__(self, requests: int) -> None:
        self.figures: Counter[str] = Counter({name: 0 for name in (*FIGURES, OVERLAP)})
        self.figures["requests"] = requests
        self.problems: list[str] = []

    def count(self, figure: str, problem: str, times: int = 1) -> None:
        self.figures[figure] += times
        if len(self.problems) < _EXAMPLES:
            self.problems.append(f"{figure}: {problem}")

    def note(self, problem: str) -> None:
        """What explains a counted problem (the errors a failed request logged)."""
        if len(self.problems) < _EXAMPLES:
            self.problems.append(f"  note: {problem}")

    def faults(self) -> dict[str, int]:
        """The figures that must be zero."""
        return {name: self.figures[name] for name in FAULTS}


def read_events(service: str, files: Iterable[Path], audit: Audit) -> list[Event]:
    """The events of ``service`` from its log files; unreadable lines and leaks are counted.

    Each file is one worker process: ``overlap`` is the most requests that one process
    had in hand at once, which shows the run did interleave requests within a process.
    """
    events = []
    for path in files:
        first = len(events)
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, 1):
                if any(leak in line for leak in _LEAKS):
                    audit.count("misread", f"{path.name}:{number}: an invalid id was logged")
                try:
                    raw = json.loads(line)
                except ValueError:
                    audit.count("lost", f"{path.name}:{number}: not JSON: {line[:120]!r}")
                    continue
                events.append(_slim(service, raw))
        overlap = most_at_once(events[first:])
        audit.figures[OVERLAP] = max(audit.figures[OVERLAP], overlap)
    audit.figures["events"] += len(events)
    return events


def most_at_once(events: Iterable[Event]) -> int:
    """The most requests between their ``start`` and ``end`` at one time."""
    edges = sorted(
        (event.time, 1 if event.des == "start" else -1)
        for event in events
        if event.des in ("start", "end") and isinstance(event.time, (int, float))
    )
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


def _slim(service: str, raw: Mapping[str, Any]) -> Event:
    msg = raw.get("msg_dict") or {}
    event = Event(
        service,
        raw.get("traceid"),
        raw.get("span_id"),
        raw.get("parent_id"),
        raw.get("trace_index"),
        str(raw.get("event_des")),
    )
    error = msg.get("error")
    if isinstance(error, dict):
        event = event._replace(error=f"{error.get('type')}: {str(error.get('message'))[:300]}")
    if event.des == "end":
        return event._replace(time=msg.get("end_time"))
    if event.des != "start":
        return event
    data = msg.get("request_data")
    return event._replace(
        time=msg.get("start_time"),
        n=data.get("n") if isinstance(data, dict) else None,
        id_source=msg.get("id_source"),
        rejected=msg.get("rejected_headers"),
        traceid_header=(msg.get("headers") or {}).get("Traceid"),
    )


def audit_run(answers: list[Answer], logs: Mapping[str, Iterable[Path]]) -> Audit:
    """All the figures of one run: the answers first, then the logs of every service."""
    audit = Audit(len(answers))
    chain_of, failed = _check_answers(answers, audit)
    events = {service: read_events(service, logs[service], audit) for service in SERVICES}
    starts = {s: {e.span_id: e for e in events[s] if e.des == "start"} for s in SERVICES}
    calls = {s: {e.span_id: e for e in events[s] if e.des == "call"} for s in SERVICES}
    by_chain: dict[tuple[str, str | None], list[Event]] = defaultdict(list)
    for service in SERVICES:
        for event in events[service]:
            by_chain[service, event.traceid].append(event)
            _check_links(event, chain_of, starts[service], calls, audit)
    for answer in answers:
        if answer.echoed is None or chain_of.get(answer.echoed) != answer.sent.n:
            continue
        if answer.echoed in failed:
            errors = [
                f"{e.service} {e.des}: {e.error}"
                for service in SERVICES
                for e in by_chain.get((service, answer.echoed), [])
                if e.error
            ]
            audit.note(f"request {answer.sent.n} ({answer.echoed}) logged: {errors}")
            continue
        for service in SERVICES:
            _check_request(service, answer, by_chain.get((service, answer.echoed), []), audit)
    return audit


def _check_answers(answers: list[Answer], audit: Audit) -> tuple[dict[str, int], set[str]]:
    """Each answer: 200, the right id echoed, and that id seen by every service throughout.

    Returns the request of each echoed chain, and the chains whose answer failed (their
    logs are not checked for completeness: a call that failed may never have arrived).
    """
    chain_of: dict[str, int] = {}
    failed: set[str] = set()
    for answer in answers:
        sent, echoed = answer.sent, answer.echoed
        if answer.error is not None:
            audit.count("failed", f"request {sent.n}: {answer.error}")
            continue
        expected_ok = (
            echoed == sent.traceid
            if sent.kind == "valid"
            else bool(echoed and _HEX32.fullmatch(echoed))
        )
        if echoed is None or not expected_ok:
            audit.count("failed", f"request {sent.n} ({sent.kind}): echoed {echoed!r}")
            continue
        if echoed in chain_of:
            audit.count("mixed", f"requests {chain_of[echoed]} and {sent.n} both got {echoed}")
            continue
        chain_of[echoed] = sent.n
        if answer.status != 200:
            failed.add(echoed)
            audit.count("failed", f"request {sent.n} ({echoed}): status {answer.status}")
            continue
        hops = (answer.body or {}).get("chain") or []
        if [hop.get("service") for hop in hops] != list(SERVICES):
            audit.count("failed", f"request {sent.n}: answer {answer.body!r}")
            continue
        for hop in hops:
            seen = {hop.get("traceid"), hop.get("before"), hop.get("after")}
            if seen != {echoed}:
                audit.count("mixed", f"request {sent.n}: {hop['service']} saw {seen}")
    return chain_of, failed


def _check_links(
    event: Event,
    chain_of: Mapping[str, int],
    starts: Mapping[str | None, Event],
    calls: Mapping[str, Mapping[str | None, Event]],
    audit: Audit,
) -> None:
    """The event belongs to its request's span, and that span to the same chain."""
    where = f"{event.service} {event.des} {event.span_id} of {event.traceid}"
    if event.traceid not in chain_of:
        audit.count("mixed", f"{where}: no request started this chain")
    owner = starts.get(event.request_span)
    if owner is None:
        audit.count("orphaned", f"{where}: no start of its request span")
    elif owner.traceid != event.traceid:
        audit.count("mixed", f"{where}: its request span is in {owner.traceid}")
    if event.des != "start":
        return
    if event.n is None or not event.n.isdigit():
        audit.count("mixed", f"{where}: start without the request's n ({event.n!r})")
    elif chain_of.get(event.traceid) != int(event.n):
        audit.count("mixed", f"{where}: start of request {event.n} in another chain")
    above = ABOVE.get(event.service)
    if above is None:
        if event.parent_id is not None:
            audit.count("orphaned", f"{where}: parent {event.parent_id} but the driver sent none")
        return
    call = calls[above].get(event.parent_id)
    if call is None:
        audit.count("orphaned", f"{where}: no call span {event.parent_id} in {above}")
    elif call.traceid != event.traceid:
        audit.count("mixed", f"{where}: called from a call of {call.traceid}")


def _check_request(service: str, answer: Answer, events: list[Event], audit: Audit) -> None:
    """One request as one service logged it: its events, their numbering, the id's source."""
    where = f"{service} request {answer.sent.n} ({answer.echoed})"
    kinds = Counter(event.des for event in events)
    expected = EXPECTED[service]
    missing = expected - kinds
    surplus = kinds - expected
    if missing:
        audit.count("lost", f"{where}: missing {dict(missing)}", sum(missing.values()))
    if surplus:
        audit.count("extra", f"{where}: extra {dict(surplus)}", sum(surplus.values()))
    if not events:
        return
    ordered = sorted(events, key=lambda e: e.index if isinstance(e.index, int) else -1)
    indexes = [event.index for event in ordered]
    if (
        indexes != list(range(1, len(events) + 1))
        or ordered[0].des != "start"
        or ordered[-1].des != "end"
    ):
        audit.count("gaps", f"{where}: {[(e.index, e.des) for e in ordered]}")
    for start in ordered:
        if start.des == "start" and not _id_read_right(service, answer, start):
            audit.count(
                "misread",
                f"{where}: id_source {start.id_source!r}, rejected {start.rejected!r}, "
                f"header {start.traceid_header!r}",
            )


def _id_read_right(service: str, answer: Answer, start: Event) -> bool:
    """B and C continue A's traceparent; A reads the driver's id, or makes one."""
    if service != "A":
        return start.id_source == "traceparent" and not start.rejected
    kind = answer.sent.kind
    if kind == "valid":
        return start.id_source == "traceid" and not start.rejected
    if kind == "none":
        return start.id_source == "generated" and not start.rejected
    return (
        start.id_source == "generated"
        and start.rejected == ["traceid"]
        and start.traceid_header == "[REJECTED]"
    )


def figures_table(rows: Mapping[str, Mapping[str, object]]) -> str:
    """Several runs, one line each, aligned; the columns are those of the first row."""
    columns = list(next(iter(rows.values()), {}))
    lines = [["run", *columns]]
    lines += [
        [name, *(str(row.get(column, "")) for column in columns)] for name, row in rows.items()
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in lines
    )
