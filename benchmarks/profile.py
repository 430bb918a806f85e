"""Where the traced variants spend their time: cProfile and pyinstrument reports.

Written for the library's authors: the figures are µs per request (or call) under the
profiler, which inflates them (roughly 2× for cProfile), so compare them with each other,
not with the timing tables; both profilers count wall-clock time, so run them on an idle
machine. ``python -m benchmarks.profile`` writes
benchmarks/results/local/profile.txt (``--save``: the tracked benchmarks/results/profile.txt;
also ``python -m benchmarks.run --profile``).
"""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Callable

CALLS = 3000
LIBRARY_DIRS = ("traced_http", "flask_hooks")


def _cases() -> dict[str, Callable[[], object]]:
    from benchmarks import inbound, outbound
    from benchmarks.apps import create_app

    app = create_app("traced")
    cases: dict[str, Callable[[], object]] = {
        f"inbound traced-http default, {route}": make(app) for route, make in inbound.ROUTES.items()
    }
    out_cases, _expected, _handler, _missing = outbound.build_cases()
    for case in out_cases:
        if case.name in ("traced_http.TracedSession", "traced_http.get"):
            cases[f"outbound {case.name}"] = case.call
    return cases


def _cprofile(call: Callable[[], object], calls: int) -> str:
    for _ in range(200):
        call()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler)
    rows = [
        (own, cumulative, ncalls, f"{_short(filename)}:{line}({name})")
        for (filename, line, name), (_cc, ncalls, own, cumulative, _callers) in (
            stats.stats.items()  # type: ignore[attr-defined]
        )
    ]
    mine = [row for row in rows if _in_library(row[3])]
    out = io.StringIO()
    _write_rows(out, "top by own time", sorted(rows, reverse=True), calls)
    _write_rows(
        out,
        "library functions, top by cumulative time",
        sorted(mine, key=lambda row: row[1], reverse=True),
        calls,
    )
    return out.getvalue()


def _write_rows(
    out: io.StringIO, title: str, rows: list[tuple[float, float, int, str]], calls: int
) -> None:
    out.write(f"\n{'own µs':>8} {'cum µs':>8} {'calls':>6}  per request: {title}\n")
    for own, cumulative, ncalls, where in rows[:25]:
        per = 1e6 / calls
        out.write(f"{own * per:8.2f} {cumulative * per:8.2f} {ncalls / calls:6.1f}  {where}\n")


def _in_library(where: str) -> bool:
    return any(where.startswith(f"{directory}/") for directory in LIBRARY_DIRS)


def _pyinstrument(call: Callable[[], object], calls: int) -> str:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "(pyinstrument is not installed)\n"
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(calls):
        call()
    profiler.stop()
    return profiler.output_text(unicode=True, color=False, short_mode=False)


def _short(filename: str) -> str:
    for marker in ("site-packages/", "/lib/python3"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    for directory in LIBRARY_DIRS:
        if f"/{directory}/" in filename:
            return directory + "/" + filename.split(f"/{directory}/", 1)[1]
    return filename


def run(calls: int = CALLS) -> str:
    parts = []
    try:
        cases = _cases()
    except (ImportError, AttributeError) as exc:
        return f"traced-http is not available: {type(exc).__name__}: {exc}\n"
    for name, call in cases.items():
        parts.append(f"==== {name}: cProfile, {calls} calls ====\n{_cprofile(call, calls)}")
        parts.append(f"==== {name}: pyinstrument, {calls} calls ====\n{_pyinstrument(call, calls)}")
    return "\n".join(parts)


def main() -> None:
    """``python -m benchmarks.profile [--save]``: write profile.txt.

    To benchmarks/results/local/ (ignored by git), or with ``--save`` to the tracked
    benchmarks/results/profile.txt.
    """
    import sys
    from pathlib import Path

    results = Path(__file__).resolve().parent / "results"
    path = (results if "--save" in sys.argv[1:] else results / "local") / "profile.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run(), encoding="utf-8")
    print(f"profile written to {path}")


if __name__ == "__main__":
    main()
