"""The fast paths that re-implement library internals: each replaces a public-API path,
is kept because it buys a clear share of the cost, and is checked against that path.

- ``make_event_record`` replaces ``Logger.makeRecord`` for event records.
  ``LogRecord.__init__`` recomputes, for every record, what is the same for every event
  (level name, path, file and module names); an event record is a ``LogRecord`` subclass
  that copies those constants and computes only what varies (the time, the thread and
  the process, as ``LogRecord`` does). Used only when the application installed no record
  factory of its own and when it sets every attribute this Python's ``LogRecord`` sets
  (checked once, at import). Checked by ``tests/unit/test_fast_paths.py``, which compares
  its attributes with those of ``Logger.makeRecord``'s record.
- ``strict_json`` replaces ``json.JSONEncoder(allow_nan=False, check_circular=False).encode``.
  ``JSONEncoder.encode`` builds a new C encoder (``json.encoder.c_make_encoder``, a private
  name) for every call; this builds it once. Falls back to the public encoder where there
  is no C accelerator. Checked by ``tests/unit/test_fast_paths.py`` against the public
  encoder: the same text for the same values, the same errors for NaN and non-JSON types.
- ``header_names``/``header_name`` replace naming each WSGI environ key as a header
  (``HTTP_X_API_KEY`` -> ``X-Api-Key``, as Werkzeug's ``EnvironHeaders`` does) on every
  request: the names are cached, bounded in count and key length, since a client chooses
  them. Checked by ``tests/unit/test_fast_paths.py`` against ``EnvironHeaders``.
- ``EnvironmentSettings`` replaces ``requests.Session.merge_environment_settings`` for a
  ``TracedSession``. requests reads the proxy and CA variables and asks the platform's
  proxy bypass on every call (about 1 million instructions, more than the rest of a traced
  call); here the answer is cached by origin and by the session's own settings, and the
  cache is dropped when one of the variables involved changes. Checked by
  ``tests/unit/test_fast_paths.py``, which compares it with requests' own method over
  proxy, no-proxy, CA-bundle and per-call settings.

What each one saves is counted by ``python -m benchmarks.instructions``; the figures, and
the fast paths removed because they did not pay for themselves, are in docs/decisions.md.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, cast

if TYPE_CHECKING:  # requests loads on first use: the viewer never needs it
    import requests

__all__ = ["EnvironmentSettings", "header_name", "header_names", "make_event_record", "strict_json"]

# Environment variables that change what merge_environment_settings returns.
_ENV_NAMES = (
    *(
        name
        for base in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        for name in (base, base.upper())
    ),
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)
_CACHE_LIMIT = 256


class EnvironmentSettings:
    """``merge_environment_settings`` of one session, with the environment lookup cached."""

    def __init__(self) -> None:
        self._snapshot: tuple[str | None, ...] | None = None
        self._env: dict[tuple[str, str | None], tuple[dict[str, str], Any]] = {}
        self._merged: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge(
        self, session: requests.Session, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        """What ``session.merge_environment_settings`` returns (``trust_env`` is true)."""
        snapshot = tuple(map(os.environ.get, _ENV_NAMES))
        if (
            snapshot != self._snapshot
            or len(self._env) > _CACHE_LIMIT
            or len(self._merged) > _CACHE_LIMIT
        ):
            self._env = {}
            self._merged = {}
            self._snapshot = snapshot
        if proxies or stream or cert is not None or verify not in (None, True):
            return self._merge(session, url, proxies, stream, verify, cert)
        # The common call (no per-call settings): the whole answer is cached, keyed by
        # origin and by the session's own settings, which the caller may change.
        key = (
            _origin(url),
            stream,
            verify,
            tuple(session.proxies.items()) if session.proxies else (),
            session.stream,
            session.verify,
            session.cert,
        )
        merged = self._merged.get(key)
        if merged is None:
            merged = self._merged[key] = self._merge(session, url, proxies, stream, verify, cert)
        return {**merged, "proxies": dict(merged["proxies"])}

    def _merge(
        self, session: requests.Session, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        from requests.sessions import merge_setting
        from requests.utils import get_environ_proxies

        _merge_setting = cast(Callable[[Any, Any], Any], merge_setting)
        merged_proxies: dict[str, Any] = dict(proxies or {})
        no_proxy = merged_proxies.get("no_proxy")
        key = (_origin(url), no_proxy)
        cached = self._env.get(key)
        if cached is None:
            env_verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            cached = self._env[key] = (get_environ_proxies(url, no_proxy=no_proxy), env_verify)
        env_proxies, env_verify = cached
        for scheme, proxy in env_proxies.items():
            merged_proxies.setdefault(scheme, proxy)
        if (verify is True or verify is None) and env_verify:
            verify = env_verify
        return {
            "proxies": _merge_setting(merged_proxies, session.proxies),
            "stream": _merge_setting(stream, session.stream),
            "verify": _merge_setting(verify, session.verify),
            "cert": _merge_setting(cert, session.cert),
        }


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL: what proxy settings depend on."""
    return "/".join(url.split("/", 3)[:3])


_LEVEL = logging.INFO
_PATHNAME = __file__


def _logging_start() -> float:
    """When ``logging`` was loaded (epoch seconds), read from a real record's public fields
    (``logging._startTime`` is seconds up to 3.12, nanoseconds from 3.13)."""
    probe = logging.LogRecord("x", _LEVEL, _PATHNAME, 0, "m", (), None)
    return probe.created - probe.relativeCreated / 1000


_START = _logging_start()


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


def _process_name() -> str | None:
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
    trace_id: str | None,
    span_id: str | None,
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


def _strict_encoder() -> Callable[[Any], str]:
    public = json.JSONEncoder(allow_nan=False, check_circular=False)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (another Python implementation)
        return public.encode
    encode = make(
        None,
        public.default,
        json.encoder.encode_basestring_ascii,
        None,
        public.key_separator,
        public.item_separator,
        public.sort_keys,
        public.skipkeys,
        public.allow_nan,
    )

    def strict(obj: Any) -> str:
        return "".join(encode(obj, 0))

    return strict


strict_json = _strict_encoder()
"""JSON text of ``obj``, strict (no NaN), no cycle bookkeeping: one C encoder reused."""

# WSGI environ key -> header name, "" for keys that are not headers (wsgi.input, ...).
_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}
header_names: dict[str, str] = dict(_UNPREFIXED)
_NAMES_LIMIT = 1024
_NAME_KEY_LIMIT = 64  # longer environ keys are not cached (a client chooses them)


def header_name(key: str) -> str:
    """The header name of a WSGI environ key (``""`` if it is none), cached when short.

    Callers look in ``header_names`` first and call this on a miss.
    """
    name = (
        key[5:].replace("_", "-").title() if key.startswith("HTTP_") else _UNPREFIXED.get(key, "")
    )
    if len(key) <= _NAME_KEY_LIMIT and len(header_names) < _NAMES_LIMIT:
        header_names[key] = name
    return name
