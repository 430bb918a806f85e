"""Fixtures of the viewer tests: the standard chain, and its logs written per service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from viewer_logs import Chain, make_chain, write_log


@pytest.fixture
def chain() -> Chain:
    """The standard chain of `make_chain`."""
    return make_chain()


@pytest.fixture
def logs(chain: Chain, tmp_path: Path) -> Iterator[list[Path]]:
    """One log file per service, as each service would have written it."""
    yield [
        write_log(tmp_path / f"{service}.log", chain.lines({service}))
        for service in ("gateway", "orders", "inventory", "worker")
    ]
