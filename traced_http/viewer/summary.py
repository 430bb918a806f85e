"""One small summary per trace, built while streaming, for `traced-http list`.

Memory grows with the number of traces, not with the number of events: each event only
updates counters and the root's fields of its trace's summary, and is then dropped.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from traced_http.schema import CALL, END, JOB, START, TASK, failed, start_kind
from traced_http.viewer.fields import integer, number, path_of, text

Event = dict[str, Any]


class TraceSummary:
    """What `list` prints about one trace; the root is the earliest span without a parent."""

    __slots__ = (
        "error",
        "first_start",
        "last_end",
        "n_calls",
        "n_ends",
        "n_starts",
        "root_duration",
        "root_id",
        "root_label",
        "root_real",
        "root_start",
        "root_status",
        "service_bits",
        "trace_id",
    )

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.root_id: str | None = None
        self.root_real = False
        self.root_label = "?"
        self.root_start: float | None = None
        self.root_duration: float | None = None
        self.root_status: int | None = None
        # One bit per service name (numbered by `Summaries`): a set per trace would cost
        # more than the rest of the summary.
        self.service_bits = 0
        self.error = False
        self.n_starts = self.n_ends = self.n_calls = 0

    @property
    def start(self) -> float | None:
        """When the trace began: its earliest known span start."""
        return self.first_start

    @property
    def duration(self) -> float | None:
        """The root's duration, else the span from first start to last end."""
        if self.root_real and self.root_duration is not None:
            return self.root_duration
        if self.first_start is None or self.last_end is None:
            return None
        return self.last_end - self.first_start

    @property
    def service_count(self) -> int:
        """How many services logged events of this trace."""
        return bin(self.service_bits).count("1")

    @property
    def span_count(self) -> int:
        """Requests (by their start, or end when the start is missing) plus call hops."""
        return max(self.n_starts, self.n_ends) + self.n_calls


def _label(kind: str, msg: dict[str, Any]) -> str | None:
    if kind == CALL:
        return f"call {text(msg.get('method')) or '?'} {text(msg.get('url')) or '?'}"
    if kind != START:
        return None
    opened = start_kind(msg)
    if opened == TASK:
        return f"task {text(msg.get('task')) or '?'}"
    if opened == JOB:
        return f"job {text(msg.get('name')) or '?'}"
    return f"{text(msg.get('method')) or '?'} {path_of(msg) or '?'}"


class Summaries:
    """Streaming aggregation of events into `TraceSummary` objects keyed by trace id."""

    def __init__(self) -> None:
        self.traces: dict[str, TraceSummary] = {}
        self._service_bits: dict[str, int] = {}

    def service_mask(self, services: Iterable[str]) -> int:
        """The bits of these service names, for filtering on `TraceSummary.service_bits`."""
        mask = 0
        for service in services:
            mask |= self._service_bits.get(service, 0)
        return mask

    def add_all(self, events: Iterable[Event]) -> None:
        """Fold every event in; only start, end and call events change a summary."""
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        """Fold one event in."""
        kind = event["event_des"]
        trace_id = event["traceid"]
        summary = self.traces.get(trace_id)
        if summary is None:
            summary = self.traces[trace_id] = TraceSummary(trace_id)
        bit = self._service_bits.get(event["service"])
        if bit is None:
            bit = self._service_bits[event["service"]] = 1 << len(self._service_bits)
        summary.service_bits |= bit
        if kind not in (START, END, CALL):
            return
        msg: dict[str, Any] = event["msg_dict"]
        duration = number(msg.get("cost_time"))
        status = integer(msg.get("status_code"))
        if kind == END:
            summary.n_ends += 1
            end = number(msg.get("end_time"))
            start = end - duration if end is not None and duration is not None else None
        else:
            if kind == START:
                summary.n_starts += 1
            else:
                summary.n_calls += 1
            start = number(msg.get("start_time"))
            end = start + duration if start is not None and duration is not None else None
        if kind != START and failed(msg.get("error"), status):
            summary.error = True
        if start is not None and (summary.first_start is None or start < summary.first_start):
            summary.first_start = start
        if end is not None and (summary.last_end is None or end > summary.last_end):
            summary.last_end = end
        self._root(summary, event, kind, msg, start, duration, status)

    @staticmethod
    def _root(
        summary: TraceSummary,
        event: Event,
        kind: str,
        msg: dict[str, Any],
        start: float | None,
        duration: float | None,
        status: int | None,
    ) -> None:
        """Keep the root's fields; a real root (no parent) beats a stand-in, earlier beats later."""
        span_id = event["span_id"]
        real = event.get("parent_id") is None
        if span_id != summary.root_id:
            if summary.root_real and not real:
                return  # the common case: a span below an already known root
            earlier = start is not None and (
                summary.root_start is None or start < summary.root_start
            )
            if not (
                summary.root_id is None
                or (real and not summary.root_real)
                or (real == summary.root_real and earlier)
            ):
                return
            summary.root_id = span_id
            summary.root_real = real
            summary.root_label = "?"
            summary.root_start = summary.root_duration = summary.root_status = None
        label = _label(kind, msg)
        if label is not None:
            # Roots are mostly the same few routes: share one string per label.
            summary.root_label = sys.intern(label)
        if start is not None and (kind != END or summary.root_start is None):
            summary.root_start = start
        if kind != START:
            summary.root_duration = duration
            summary.root_status = status
