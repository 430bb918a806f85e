"""Reliability tests: soak runs are skipped unless asked for.

``pytest -m soak`` (or ``RUN_SOAK=1``) runs them; a plain ``pytest`` runs the CI-size
load and memory tests only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable

import pytest
from chain_audit import figures_table


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markexpr = config.getoption("markexpr", "") or ""
    if os.environ.get("RUN_SOAK") == "1" or ("soak" in markexpr and "not soak" not in markexpr):
        return
    skip = pytest.mark.skip(reason="soak run: long; run with `pytest -m soak` or RUN_SOAK=1")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


_RUNS = pytest.StashKey[dict[str, dict[str, object]]]()


@pytest.fixture
def record_run(request: pytest.FixtureRequest) -> Callable[[str, Mapping[str, object]], None]:
    """Keep a run's figures for the table printed at the end of the session."""
    runs = request.config.stash.setdefault(_RUNS, {})

    def record(name: str, figures: Mapping[str, object]) -> None:
        runs[name] = dict(figures)

    return record


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    runs = config.stash.get(_RUNS, None)
    if not runs:
        return
    terminalreporter.section("reliability figures")
    tables: dict[tuple[str, ...], dict[str, dict[str, object]]] = {}
    for name, figures in runs.items():
        tables.setdefault(tuple(figures), {})[name] = figures
    for rows in tables.values():
        terminalreporter.write_line(figures_table(rows))
        terminalreporter.write_line("")
