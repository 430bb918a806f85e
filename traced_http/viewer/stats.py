"""Per service and route: count, error rate and duration percentiles, for `traced-http stats`.

A request's route comes from its `start` and its outcome from its `end`; the two are
joined by span, in whichever order they arrive. Routes group paths by shape (numeric,
hex and UUID segments become `{id}`), so `/orders/17` and `/orders/18` share a row.
Celery tasks are rows too, one per task name (each attempt counts, a retried one as an error).
"""

from __future__ import annotations

import math
import re
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from traced_http import schema
from traced_http.viewer.fields import integer, number, path_of, text

Event = dict[str, Any]
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12})$"
)


def route_of(msg: dict[str, Any]) -> str:
    """`METHOD /path/{id}` for a request start, `job NAME` for a traced.trace() block,
    `task NAME` for a Celery task's execution."""
    method = text(msg.get("method"))
    if method is None and "task_id" in msg:
        return f"task {text(msg.get('task')) or '?'}"
    if method is None and "name" in msg:
        return f"job {text(msg.get('name')) or '?'}"
    path = path_of(msg) or "?"
    shape = "/".join("{id}" if _ID_SEGMENT.match(part) else part for part in path.split("/"))
    return f"{method or '?'} {shape}"


@dataclass
class RouteStats:
    """The outcomes of one service's route."""

    service: str
    route: str
    durations: array[float]
    errors: int = 0

    @property
    def count(self) -> int:
        """Finished requests seen."""
        return len(self.durations)

    @property
    def error_rate(self) -> float:
        """Share of requests that raised or answered 5xx."""
        return self.errors / self.count if self.count else 0.0

    def percentile(self, share: float) -> float | None:
        """Nearest-rank percentile of the durations, in seconds (durations must be sorted)."""
        if not self.durations:
            return None
        rank = max(1, math.ceil(share * len(self.durations)))
        return self.durations[rank - 1]


class Stats:
    """Streaming join of starts and ends into `RouteStats` rows."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], RouteStats] = {}
        self._starts: dict[tuple[str, str], tuple[str, str]] = {}
        self._ends: dict[tuple[str, str], tuple[float, bool]] = {}

    def add_all(self, events: Iterable[Event]) -> None:
        """Fold every start and end event in; the rest do not change the figures."""
        for event in events:
            kind = event["event_des"]
            if kind not in (schema.START, schema.END):
                continue
            key = (event["traceid"], event["span_id"])
            msg: dict[str, Any] = event["msg_dict"]
            if kind == schema.START:
                route = (event["service"], route_of(msg))
                outcome = self._ends.pop(key, None)
                if outcome is None:
                    self._starts[key] = route
                else:
                    self._record(route, *outcome)
            else:
                failed = schema.failed(msg.get("error"), integer(msg.get("status_code")))
                duration = number(msg.get("cost_time"))
                if duration is None:
                    continue
                route_seen = self._starts.pop(key, None)
                if route_seen is None:
                    self._ends[key] = (duration, failed)
                else:
                    self._record(route_seen, duration, failed)

    def _record(self, route: tuple[str, str], duration: float, failed: bool) -> None:
        row = self.routes.get(route)
        if row is None:
            row = self.routes[route] = RouteStats(route[0], route[1], array("d"))
        row.durations.append(duration)
        row.errors += failed

    def rows(self) -> list[RouteStats]:
        """The rows by service then route, durations sorted for the percentiles."""
        result = sorted(self.routes.values(), key=lambda r: (r.service, r.route))
        for row in result:
            row.durations = array("d", sorted(row.durations))
        return result
