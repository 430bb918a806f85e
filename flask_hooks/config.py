"""The extension's settings: ``Tracing(app, ...)`` options and ``app.config["TRACE_*"]``.

Both name the settings of ``traced_http.settings.SETTINGS`` (options win); they are checked
once, at ``init_app``, and a bad one raises an error that names it, rather than failing on
the thousandth request. An unknown ``TRACE_*`` key is only warned about: the app may well
own a key of that name.
"""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from traced_http.propagation import InboundHeaders
from traced_http.settings import BY_NAME, KEY_PREFIX, SETTINGS, TraceSettings

__all__ = ["TracingConfig"]

_KEYS = [setting.key for setting in SETTINGS]


@dataclass(frozen=True)
class TracingConfig:
    """Everything the hooks need, compiled once per app."""

    settings: TraceSettings
    inbound: InboundHeaders
    response_header: str | None
    exclude_paths: tuple[str, ...]
    otlp_endpoint: str | None = None

    @classmethod
    def build(
        cls, app_name: str, app_config: Mapping[str, Any], options: Mapping[str, Any]
    ) -> TracingConfig:
        """Merge defaults, ``app.config`` and options; raise naming the first bad setting."""
        values = {setting.name: setting.default for setting in SETTINGS}
        source = {}
        for key, value in app_config.items():
            if isinstance(key, str) and key.startswith(KEY_PREFIX):
                name = key[len(KEY_PREFIX) :].lower()
                if name not in BY_NAME:
                    _warn_unknown(key)
                    continue
                values[name] = value
                source[name] = f"app.config[{key!r}]: "
        for name, value in options.items():
            values[name] = value
            source.pop(name, None)
        checked = {}
        for setting in SETTINGS:
            try:
                checked[setting.name] = setting.check(setting.name, values[setting.name])
            except (TypeError, ValueError) as exc:
                where = source.get(setting.name, "")
                raise type(exc)(f"traced-http configuration: {where}{exc}") from None
        outbound = {setting.name: checked[setting.name] for setting in SETTINGS if setting.outbound}
        outbound["service"] = outbound["service"] or app_name
        return cls(
            TraceSettings(**outbound),
            InboundHeaders(checked["id_headers"]),
            checked["response_header"],
            checked["exclude_paths"],
            checked["otlp_endpoint"],
        )


def _warn_unknown(key: str) -> None:
    close = difflib.get_close_matches(key, _KEYS, n=1)
    hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_KEYS)}"
    warnings.warn(
        f"traced-http ignores app.config[{key!r}], which names no setting; {hint}",
        stacklevel=_app_code_level(),
    )


def _app_code_level() -> int:
    """The ``stacklevel`` of the app's line that called ``Tracing(app)`` or ``init_app``."""
    level, frame = 0, inspect.currentframe()  # this frame is one below warn()'s caller
    while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__):
        level, frame = level + 1, frame.f_back
    return level
