"""Part 2: cost per outbound call, through an adapter that returns a canned response.

No socket is opened, so what is measured is the client-side work: requests' own
session machinery plus whatever the tracing adds on top of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from io import BytesIO
from typing import Any
from unittest import mock

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from benchmarks.apps import otel_tracer_provider
from benchmarks.config import Settings
from benchmarks.harness import Case, DiscardHandler, discard_logger, run_interleaved
from benchmarks.report import Table, Target, ratio, us

URL = "http://inventory.internal:8080/items?id=42"
BODY = b'{"id": 42, "name": "widget"}'


class CannedAdapter(HTTPAdapter):
    """Answers every request with a 200 JSON response built in memory."""

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", "Content-Length": str(len(BODY))}
        )
        response.raw = BytesIO(BODY)
        response._content = BODY
        response.encoding = "utf-8"
        response.url = request.url or URL
        response.request = request
        response.connection = self
        return response


def canned_session(session: requests.Session) -> requests.Session:
    session.mount("http://", CannedAdapter())
    return session


def canned_traced_session(session: requests.Session) -> requests.Session:
    """Mount a ``TracingAdapter`` whose transport is canned, in place of the session's own.

    traced-http traces in its ``TracingAdapter`` (mounted by ``TracedSession``), whose
    ``send`` calls ``HTTPAdapter.send`` for the network: a plain canned adapter mounted
    in its place would skip the tracing, so the canned transport goes under it instead.
    """
    from traced_http import TracingAdapter

    class CannedTracingAdapter(TracingAdapter, CannedAdapter):
        pass

    session.mount("http://", CannedTracingAdapter())
    return session


@contextlib.contextmanager
def otel_requests_instrumented() -> Iterator[None]:
    """OpenTelemetry patches ``Session.send`` globally: keep it on for one batch only."""
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    provider, _exporter = otel_tracer_provider()
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=provider, skip_dep_check=True)
    try:
        yield
    finally:
        instrumentor.uninstrument()


def _requests_get_canned() -> contextlib.AbstractContextManager[Any]:
    """``requests.get`` still builds (and closes) a Session per call; only the adapter lookup
    is redirected to the canned adapter."""
    adapter = CannedAdapter()
    return mock.patch.object(requests.Session, "get_adapter", lambda self, url: adapter)


def build_cases() -> tuple[list[Case], dict[str, int], DiscardHandler | None, str | None]:
    """The cases, the events each should log per call, the traced handler, why traced is off."""
    plain = canned_session(requests.Session())
    no_env = canned_session(requests.Session())
    no_env.trust_env = False
    otel_session = canned_session(requests.Session())
    cases = [
        Case("requests.Session", lambda: plain.get(URL)),
        Case("requests.Session, trust_env=False (reference)", lambda: no_env.get(URL)),
        Case("requests.get", lambda: requests.get(URL), batch=_requests_get_canned),
        Case(
            "OpenTelemetry requests instrumentation on a Session",
            lambda: otel_session.get(URL),
            batch=otel_requests_instrumented,
        ),
    ]
    expected: dict[str, int] = {}
    try:
        import traced_http

        handler = discard_logger("traced_http", traced_http.JsonFormatter())
        traced_session = canned_traced_session(traced_http.TracedSession())
        canned_traced_session(traced_http.default_session())
    except (ImportError, AttributeError) as exc:
        return cases, expected, None, f"{type(exc).__name__}: {exc}"
    cases += [
        Case("traced_http.TracedSession", lambda: traced_session.get(URL)),
        Case(
            "traced_http.TracedSession inside traced.trace()",
            lambda: traced_session.get(URL),
            batch=lambda: traced_http.trace("bench"),
        ),
        Case("traced_http.get", lambda: traced_http.get(URL)),
    ]
    expected = {case.name: 1 for case in cases[-3:]}
    return cases, expected, handler, None


def events_per_call(case: Case, handler: DiscardHandler) -> int:
    with case.batch():
        before = handler.count
        case.call()
        return handler.count - before


def run(settings: Settings) -> tuple[list[Table], list[Target]]:
    cases, expected, handler, missing = build_cases()
    timings = run_interleaved(cases, repeats=settings.repeats, batch_seconds=settings.batch_seconds)
    cost = {name: timing.median for name, timing in timings.items()}
    base_timing = timings["requests.Session"]
    extra = {name: timing.minus(base_timing).median for name, timing in timings.items()}
    table = Table(
        "Outbound: CPU µs per call through a canned-response adapter",
        ["client", "µs per call", "overhead over requests.Session µs", "events per call"],
    )
    for case in cases:
        events = "n/a"
        if handler is not None and case.name in expected:
            seen = events_per_call(case, handler)
            events = str(seen) + ("" if seen == expected[case.name] else " (expected 1!)")
        table.rows.append([case.name, us(cost[case.name]), us(extra[case.name]), events])
    table.notes.append(
        f"median of {settings.repeats} interleaved batches; overhead = median of the "
        "round-by-round differences; outside traced.trace() each traced call is a root "
        "trace of its own"
    )
    if missing:
        table.notes.append(f"not measured: traced-http: {missing}")
    return [table], _targets(cost, extra)


def _targets(cost: dict[str, float], extra: dict[str, float]) -> list[Target]:
    session = extra.get("traced_http.TracedSession")
    get, plain_get = cost.get("traced_http.get"), cost["requests.get"]
    return [
        Target(
            "TracedSession overhead ≤ 25 µs over plain Session (ideally negative)",
            f"{us(session)} µs",
            None if session is None else session <= 25,
        ),
        Target(
            "traced.get ≤ 0.5 × requests.get",
            f"{ratio(None if get is None else get / plain_get)} × ({us(plain_get)} µs)",
            None if get is None else get <= 0.5 * plain_get,
        ),
    ]
