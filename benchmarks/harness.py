"""Measuring primitives shared by every part: discarding log handler, WSGI caller, timer.

Cases are timed interleaved (A B C A B C ...) so that drift of the machine (frequency,
noisy neighbours) hits every case alike; each case reports the median of its repeats.
Time is the process's CPU time, not wall-clock time.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import statistics
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Callable

from werkzeug.test import EnvironBuilder


class DiscardHandler(logging.Handler):
    """Formats every record (so the formatter's cost is paid) and drops the string.

    ``count`` says how many records arrived, so a run can check that a traced variant
    really wrote its events instead of silently doing nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)
        self.count += 1


_HANDLERS: dict[str, DiscardHandler] = {}


def discard_logger(
    name: str, formatter: logging.Formatter, filters: Iterable[logging.Filter] = ()
) -> DiscardHandler:
    """Route logger ``name`` at INFO to a :class:`DiscardHandler` and nowhere else.

    Idempotent per logger name: variants that share a logger share its handler.
    """
    if name in _HANDLERS:
        return _HANDLERS[name]
    handler = DiscardHandler()
    handler.setFormatter(formatter)
    for log_filter in filters:
        handler.addFilter(log_filter)
    logger = logging.getLogger(name)
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    _HANDLERS[name] = handler
    return handler


def reattach_handlers() -> None:
    """Put every discarding handler back as the only one of its logger.

    For test suites whose fixtures swap a logger's handlers between tests.
    """
    for name, handler in _HANDLERS.items():
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


@dataclass
class WsgiResult:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class WsgiCall:
    """One prebuilt request, sent straight into a WSGI app (no server, no socket).

    The environ is built once with Werkzeug's ``EnvironBuilder``; each call gets a shallow
    copy and a fresh input stream, and the response body is consumed and closed as a
    server would.
    """

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        builder = EnvironBuilder(
            path=path,
            method=method,
            query_string=dict(query) if query else None,
            json=json,
            data=data,
            content_type=content_type,
            headers=dict(headers) if headers else None,
        )
        try:
            self._environ = builder.get_environ()
        finally:
            builder.close()
        self._body = self._environ["wsgi.input"].read()
        self._app = app

    def __call__(self) -> None:
        environ = self._environ.copy()
        environ["wsgi.input"] = BytesIO(self._body)
        out = self._app(environ, _ignore_start_response)
        try:
            for _chunk in out:
                pass
        finally:
            close = getattr(out, "close", None)
            if close is not None:
                close()

    def fetch(self) -> WsgiResult:
        """Send the request once and return what a client would see (for checks)."""
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            seen["status"], seen["headers"] = status, headers
            return lambda _data: None

        environ = self._environ.copy()
        environ["wsgi.input"] = BytesIO(self._body)
        out = self._app(environ, start_response)
        try:
            body = b"".join(out)
        finally:
            close = getattr(out, "close", None)
            if close is not None:
                close()
        return WsgiResult(seen["status"], seen["headers"], body)


def _ignore_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
    return _ignore_write


def _ignore_write(_data: bytes) -> None:
    return None


@dataclass
class Case:
    """One thing to time. ``batch`` wraps each timed batch (patches, instrumentation)."""

    name: str
    call: Callable[[], object]
    batch: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext


@dataclass
class Timing:
    samples_us: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_us)

    @property
    def spread(self) -> float:
        """Half the distance between the quartiles, in µs: a robust noise figure."""
        if len(self.samples_us) < 4:
            return (max(self.samples_us) - min(self.samples_us)) / 2
        q1, _q2, q3 = statistics.quantiles(self.samples_us, n=4)
        return (q3 - q1) / 2

    def minus(self, base: Timing) -> Timing:
        """Round-by-round differences with ``base`` (timed in the same interleaved rounds).

        The median of paired differences is steadier than the difference of medians when
        the machine's speed drifts during the run (other work on the same cores).
        """
        return Timing([mine - theirs for mine, theirs in zip(self.samples_us, base.samples_us)])


def _time_batch(case: Case, number: int) -> float:
    """CPU seconds of ``number`` calls: time spent waiting for the cores while other
    programs use them is not counted, so a busy machine inflates the figures less."""
    with case.batch():
        call = case.call
        gc.collect()
        start = time.process_time()
        for _ in range(number):
            call()
        return time.process_time() - start


def run_interleaved(
    cases: list[Case], *, repeats: int, batch_seconds: float, min_number: int = 3
) -> dict[str, Timing]:
    """Time every case ``repeats`` times, interleaved; return µs per call per case.

    Each case first runs a warm-up batch, which also sets how many calls a batch makes
    so that one batch lasts about ``batch_seconds``.
    """
    numbers: dict[str, int] = {}
    for case in cases:
        _time_batch(case, min_number)
        elapsed = _time_batch(case, min_number)
        per_call = max(elapsed / min_number, 1e-7)
        numbers[case.name] = max(min_number, int(batch_seconds / per_call))
    timings = {case.name: Timing() for case in cases}
    for _ in range(repeats):
        for case in cases:
            number = numbers[case.name]
            timings[case.name].samples_us.append(_time_batch(case, number) / number * 1e6)
    return timings


@contextlib.contextmanager
def counting(handler: DiscardHandler) -> Iterator[list[int]]:
    """Yield a one-item list that holds, after the block, how many records arrived."""
    before = handler.count
    result = [0]
    try:
        yield result
    finally:
        result[0] = handler.count - before
