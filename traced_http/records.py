"""Log records for events, built without ``LogRecord.__init__``'s per-call work.

``LogRecord.__init__`` recomputes, for every record, what is the same for every event
(level name, path, file and module names). An event record is a ``LogRecord`` subclass
that copies those constants and computes only what varies: the time, the thread and the
process, as ``LogRecord`` does. Used only when it provably matches: when the application
installed no record factory of its own, and when it sets every attribute this Python's
``LogRecord`` sets (checked once, at import).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any, Optional

__all__ = ["make_event_record"]

_LEVEL = logging.INFO
_PATHNAME = __file__
_START = getattr(logging, "_startTime", time.time())


class _EventRecord(logging.LogRecord):
    """A ``LogRecord`` of the ``traced_http`` logger at INFO, for one event."""

    def __init__(self, logger_name: str, msg: Any, now: float) -> None:
        fields = self.__dict__
        fields.update(_CONSTANTS)
        fields["name"] = logger_name
        fields["msg"] = msg
        fields["created"] = now
        fields["msecs"] = int((now - int(now)) * 1000) + 0.0
        fields["relativeCreated"] = (now - _START) * 1000
        if logging.logThreads:
            fields["thread"] = threading.get_ident()
            fields["threadName"] = threading.current_thread().name
        else:
            fields["thread"] = fields["threadName"] = None
        fields["processName"] = _process_name()
        fields["process"] = os.getpid() if logging.logProcesses else None


_CONSTANTS: dict[str, Any] = {
    "args": (),
    "levelname": logging.getLevelName(_LEVEL),
    "levelno": _LEVEL,
    "pathname": _PATHNAME,
    "filename": os.path.basename(_PATHNAME),
    "module": os.path.splitext(os.path.basename(_PATHNAME))[0],
    "exc_info": None,
    "exc_text": None,
    "stack_info": None,
    "lineno": 0,
    "funcName": None,
    "taskName": None,
}


def _process_name() -> Optional[str]:
    if not logging.logMultiprocessing:
        return None
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return "MainProcess"
    try:
        return str(multiprocessing.current_process().name)
    except Exception:
        return "MainProcess"


def _matches_logrecord() -> bool:
    """True when an event record has every attribute a real ``LogRecord`` has here."""
    real = logging.LogRecord("x", _LEVEL, _PATHNAME, 0, "m", (), None)
    return set(vars(real)) <= set(vars(_EventRecord("x", "m", time.time())))


_USABLE = _matches_logrecord()


def make_event_record(
    logger: logging.Logger,
    msg: Any,
    now: float,
    trace_id: Optional[str],
    span_id: Optional[str],
) -> logging.LogRecord:
    """An INFO record of ``logger`` for an event written at ``now`` (epoch seconds).

    It carries ``traceid`` and ``span_id``, as ``TraceIdFilter`` would put them.
    """
    if _USABLE and logging.getLogRecordFactory() is logging.LogRecord:
        record: logging.LogRecord = _EventRecord(logger.name, msg, now)
    else:
        record = logger.makeRecord(logger.name, _LEVEL, _PATHNAME, 0, msg, (), None)
    record.traceid = trace_id
    record.span_id = span_id
    return record
