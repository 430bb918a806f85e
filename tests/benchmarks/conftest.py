"""``benchmarks/`` is not an installed package: make it importable from the project root."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture(scope="module")
def restore_traced_logger() -> Iterator[None]:
    """A benchmark rewires the ``traced_http`` logger: undo it after the module."""
    logger = logging.getLogger("traced_http")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers, logger.propagate = saved[0], saved[2]
    logger.setLevel(saved[1])
