"""The compatibility runs: long (several minutes), so run only when asked for.

``pytest -m compat tests/compat`` (or ``RUN_COMPAT=1``) runs them; they need the packages
of the ``compat`` requirements (``pip install -r tests/compat/requirements.txt``).
"""

from __future__ import annotations

import os

import pytest
from upstream import SUMMARY


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("-m") or ""
    if os.environ.get("RUN_COMPAT") == "1" or (
        "compat" in markexpr and "not compat" not in markexpr
    ):
        return
    skip = pytest.mark.skip(reason="compatibility run: long; run with `pytest -m compat`")
    for item in items:
        if "compat" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY:
        terminalreporter.write_sep("=", "upstream suites: outcomes per mode")
        for line in SUMMARY:
            terminalreporter.write_line(line)
