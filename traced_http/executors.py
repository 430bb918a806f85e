"""``traced.ThreadPoolExecutor``: a thread pool whose work runs in the submitter's trace.

A pool thread does not inherit the context variables of the thread that submits work,
so without help the work would log with no trace id. Each callable is wrapped with
``bind`` when it is submitted, so it runs in the trace active at ``submit`` (or ``map``)
time, and the pool thread is back to no trace when it finishes.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any, Callable, TypeVar

from traced_http.context import bind

__all__ = ["ThreadPoolExecutor"]

_T = TypeVar("_T")


class ThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """``concurrent.futures.ThreadPoolExecutor`` with every callable bound to the caller's trace.

    Same constructor and methods; ``map`` goes through ``submit``, so it is covered too.
    """

    def submit(
        self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[_T]:
        """As ``Executor.submit``; ``fn`` runs in the trace active now."""
        return super().submit(bind(fn), *args, **kwargs)
