"""Run settings: one frozen object, the default and the ``--quick`` one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    repeats: int = 7  # timed batches per in-process case (the median is reported)
    batch_seconds: float = 0.12  # length of one timed batch
    server_seconds: float = 10.0  # wrk time per gunicorn variant and worker kind
    server_rounds: int = 5  # the server time is split into this many interleaved rounds
    wrk_connections: int = 16
    memory_requests: int = 100_000
    memory_seconds: float = 60.0  # fewer requests when tracemalloc makes them slower than that
    big_body_repeats: int = 9

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            repeats=3,
            batch_seconds=0.03,
            server_seconds=2.0,
            server_rounds=1,
            memory_requests=5_000,
            memory_seconds=10.0,
            big_body_repeats=3,
        )
