"""Instructions per request, counted exactly by valgrind: what tracing adds, and what each
fast path of ``traced_http/fast_paths.py`` buys, on one or more Pythons.

python -m benchmarks.instructions                       # the running Python
python -m benchmarks.instructions --python venv39/bin/python \\
    --python venv313/bin/python                         # one column per Python
python -m benchmarks.instructions --requests 40 --save  # update the tracked results

Each measure is a child process of the given Python under ``valgrind --tool=cachegrind
--cache-sim=no``, which counts every instruction the process executes. The child builds
the benchmark app (or session), sends a few warm-up requests, then N requests; it runs
once with N and once with 2N, and (I(2N) - I(N)) / N is the cost of one request, start-up
and warm-up cancelling out. A count does not depend on the machine's speed or load; the
children run with ``PYTHONHASHSEED=0`` and a small fixed environment (requests reads the
environment on every call), so a run repeats to within a few hundred instructions.

A fast path is measured by swapping it, in the child only, for the public-API path it
replaces (``PUBLIC_PATHS``): every global of the library's modules bound to the fast
path is rebound to the public one; the library itself is not changed.
Each Python (a virtualenv, say) needs traced-http and its ``bench`` extra installed. A
local run writes benchmarks/results/local/instructions.md (ignored by git); ``--save``
writes the tracked benchmarks/results/instructions.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from benchmarks.report import Table, machine_lines, publish

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = 40
WARMUP = 20
ROUTES = ("GET /hello", "POST /echo")  # the keys of benchmarks.inbound.ROUTES
OUTBOUND = "outbound call"
LIBRARY = ("traced_http", "flask_hooks")
CLEAR_SHARE = 0.03  # a fast path buying less than this share of what tracing adds is flagged


# --- the public-API paths that replace each fast path in a child ---------------------------


_UNPREFIXED = {"CONTENT_TYPE": "Content-Type", "CONTENT_LENGTH": "Content-Length"}


def _header_name_uncached(key: str) -> str:
    """The header name of an environ key, worked out for every key of every request, as
    Werkzeug's ``EnvironHeaders`` does."""
    if key.startswith("HTTP_"):
        return key[5:].replace("_", "-").title()
    return _UNPREFIXED.get(key, "")


def _public_record_maker() -> Callable[..., logging.LogRecord]:
    """``Logger.makeRecord``, with the two fields ``TraceIdFilter`` would add."""
    from traced_http import fast_paths

    pathname = fast_paths.__file__

    def make_record(
        logger: logging.Logger, msg: Any, now: float, trace_id: str | None, span_id: str | None
    ) -> logging.LogRecord:
        record = logger.makeRecord(logger.name, logging.INFO, pathname, 0, msg, (), None)
        record.traceid = trace_id
        record.span_id = span_id
        return record

    return make_record


def _public_encoder() -> Callable[[Any], str]:
    """One reused ``JSONEncoder``, whose ``encode`` builds a new C encoder for every call."""
    return json.JSONEncoder(allow_nan=False, check_circular=False).encode


class _PublicEnvironmentSettings:
    """``requests.Session.merge_environment_settings`` for every call."""

    def __init__(self) -> None:
        import requests

        self._merge = requests.Session.merge_environment_settings

    def merge(
        self, session: Any, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        return self._merge(session, url, proxies, stream, verify, cert)


@dataclass(frozen=True)
class PublicPath:
    """One fast path of ``traced_http.fast_paths`` and the public-API path it replaces."""

    label: str
    replaces: str
    side: str  # "inbound" or "outbound"
    swaps: Callable[[], dict[str, Any]]  # fast_paths attribute name -> public replacement


PUBLIC_PATHS: dict[str, PublicPath] = {
    "header_names": PublicPath(
        "environ key -> header name cache (`header_names`, `header_name`)",
        "name each environ key per request, as Werkzeug's `EnvironHeaders` does",
        "inbound",
        # The caller still looks in the (now empty) cache first: a dict miss per environ
        # key, a few hundred instructions a request counted against the public path.
        lambda: {"header_names": {}, "header_name": _header_name_uncached},
    ),
    "make_event_record": PublicPath(
        "event `LogRecord` built from constants (`make_event_record`)",
        "`Logger.makeRecord`",
        "inbound",
        lambda: {"make_event_record": _public_record_maker()},
    ),
    "strict_json": PublicPath(
        "one reused C encoder (`strict_json`)",
        "`json.JSONEncoder(allow_nan=False, check_circular=False).encode`, the encoder reused",
        "inbound",
        lambda: {"strict_json": _public_encoder()},
    ),
    "EnvironmentSettings": PublicPath(
        "cached `merge_environment_settings` (`EnvironmentSettings`)",
        "`requests.Session.merge_environment_settings`",
        "outbound",
        lambda: {"EnvironmentSettings": _PublicEnvironmentSettings},
    ),
}


@contextlib.contextmanager
def public_path(name: str) -> Iterator[int]:
    """Within the block, the library uses the public-API path in place of fast path ``name``.

    Every global of an imported ``traced_http``/``flask_hooks`` module that is the fast
    path's object is rebound (modules imported later get it from ``fast_paths``). Yields
    how many globals were rebound; they are restored on exit.
    """
    import flask_hooks  # noqa: F401  (the modules that hold the fast paths' names)
    import traced_http  # noqa: F401
    from traced_http import fast_paths

    rebound: list[tuple[Any, str, Any]] = []
    try:
        for attribute, replacement in PUBLIC_PATHS[name].swaps().items():
            original = getattr(fast_paths, attribute)
            for module_name, module in list(sys.modules.items()):
                if module is None or module_name.split(".")[0] not in LIBRARY:
                    continue
                for global_name, value in list(vars(module).items()):
                    if value is original:
                        rebound.append((module, global_name, value))
                        setattr(module, global_name, replacement)
        yield len(rebound)
    finally:
        for module, global_name, value in reversed(rebound):
            setattr(module, global_name, value)


# --- what one child process measures ---------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One request loop: a route (or the outbound call), a variant, a fast path swapped out."""

    route: str  # one of ROUTES, or OUTBOUND
    variant: str  # inbound: "bare" or "traced"; outbound: "requests" or "traced"
    without: str | None = None  # a key of PUBLIC_PATHS

    @property
    def key(self) -> str:
        return f"{self.route}|{self.variant}|{self.without or ''}"

    @classmethod
    def parse(cls, key: str) -> Measure:
        route, variant, without = key.split("|")
        return cls(route, variant, without or None)


def all_measures() -> list[Measure]:
    measures = []
    for route in ROUTES:
        measures += [Measure(route, "bare"), Measure(route, "traced")]
        measures += [
            Measure(route, "traced", name)
            for name, path in PUBLIC_PATHS.items()
            if path.side == "inbound"
        ]
    measures += [Measure(OUTBOUND, "requests"), Measure(OUTBOUND, "traced")]
    measures += [
        Measure(OUTBOUND, "traced", name)
        for name, path in PUBLIC_PATHS.items()
        if path.side == "outbound"
    ]
    return measures


def _request_loop(measure: Measure) -> tuple[Callable[[], object], Callable[[], int]]:
    """The call to repeat, and how many events the traced logger has received so far."""
    from benchmarks.harness import discard_logger

    if measure.route == OUTBOUND:
        import requests

        from benchmarks import outbound

        if measure.variant == "requests":
            session = outbound.canned_session(requests.Session())
            return lambda: session.get(outbound.URL), lambda: 0
        import traced_http

        handler = discard_logger("traced_http", traced_http.JsonFormatter())
        traced_session = outbound.canned_traced_session(traced_http.TracedSession())
        return lambda: traced_session.get(outbound.URL), lambda: handler.count
    from benchmarks import inbound
    from benchmarks.apps import create_app

    app = create_app(measure.variant)
    call = inbound.ROUTES[measure.route](app)
    answer = call.fetch()
    if not answer.status.startswith("200"):
        raise RuntimeError(f"{measure.key}: {answer.status} {answer.body[:80]!r}")
    handler = app.extensions["bench_handler"]
    return call, (lambda: 0) if handler is None else (lambda: handler.count)


def run_child(measure: Measure, requests: int, warmup: int = WARMUP) -> dict[str, Any]:
    """Send ``warmup`` then ``requests`` requests of ``measure``; what a check needs to know."""
    import gc
    import platform
    from importlib import metadata

    with contextlib.ExitStack() as stack:
        rebound = stack.enter_context(public_path(measure.without)) if measure.without else 0
        call, events = _request_loop(measure)
        for _ in range(warmup):
            call()
        # No cyclic collection during the counted requests: what one costs depends on the
        # whole heap and on where it falls, which would move the figure by thousands
        # between the N and the 2N run. Garbage in reference cycles waits for the end.
        gc.collect()
        gc.disable()
        stack.callback(gc.enable)
        before = events()
        for _ in range(requests):
            call()
        logged = events() - before
    return {
        "python": platform.python_version(),
        "versions": {dist: metadata.version(dist) for dist in ("flask", "werkzeug", "requests")},
        "rebound": rebound,
        "events_per_request": logged / requests if requests else 0.0,
    }


# --- the parent: valgrind runs and the tables -------------------------------------------------


def child_environment(inherit: bool = False) -> dict[str, str]:
    """The children's whole environment: by default small and fixed, so that counts repeat
    from one machine to the next; or this process's (``--inherit-env``)."""
    if inherit:
        environ = {**os.environ, "PYTHONHASHSEED": "0"}
        # Bytecode is written by the first, uncounted run of each measure: a module
        # compiled in every counted run would shift the heap from one run to the next.
        environ.pop("PYTHONDONTWRITEBYTECODE", None)
        return environ
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONHASHSEED": "0",
        "LC_ALL": "C.UTF-8",
    }


def count_instructions(argv: list[str], workdir: Path, environ: dict[str, str]) -> tuple[int, str]:
    """Instructions executed by ``argv`` under cachegrind, and what it printed."""
    out_file = Path(tempfile.mkstemp(dir=workdir, suffix=".cachegrind")[1])
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            f"--cachegrind-out-file={out_file}",
            "-q",
            *argv,
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )
    try:
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
        for line in out_file.read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1]), done.stdout
        raise RuntimeError(f"no summary line in cachegrind's output for {' '.join(argv)}")
    finally:
        out_file.unlink(missing_ok=True)


def _child_argv(python: str, measure: Measure, requests: int) -> list[str]:
    return [python, "-m", "benchmarks.instructions", "--child", measure.key, "-n", str(requests)]


@dataclass
class Count:
    per_request: float
    child: dict[str, Any]


def measure_once(
    python: str, measure: Measure, requests: int, workdir: Path, environ: dict[str, str]
) -> Count:
    """(I(2N) - I(N)) / N for one measure on one Python."""
    single, out = count_instructions(_child_argv(python, measure, requests), workdir, environ)
    double, _ = count_instructions(_child_argv(python, measure, 2 * requests), workdir, environ)
    return Count((double - single) / requests, json.loads(out.strip().splitlines()[-1]))


def _expected_events(measure: Measure) -> float:
    if measure.variant in ("bare", "requests"):
        return 0.0
    return 1.0 if measure.route == OUTBOUND else 2.0


def _checked(python: str, measure: Measure, child: dict[str, Any]) -> dict[str, Any]:
    """A child's report, if it logged what it should have and its fast path was swapped."""
    problems = []
    if child["events_per_request"] != _expected_events(measure):
        problems.append(f"{child['events_per_request']} events per request")
    if measure.without and not child["rebound"]:
        problems.append(f"{measure.without} was not swapped")
    if problems:
        raise RuntimeError(f"{python} {measure.key}: {', '.join(problems)}")
    return child


def check_child(python: str, measure: Measure, environ: dict[str, str]) -> dict[str, Any]:
    """One request of ``measure``, without valgrind: a fast failure if it cannot run."""
    done = subprocess.run(
        _child_argv(python, measure, 1),
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{python} {measure.key} failed:\n{done.stderr[-2000:]}")
    return _checked(python, measure, json.loads(done.stdout.strip().splitlines()[-1]))


def run_all(
    pythons: list[str],
    requests: int,
    jobs: int,
    measures: list[Measure] | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, dict[Measure, Count]]:
    """Every measure on every Python, ``jobs`` processes at a time."""
    pairs = [(python, measure) for python in pythons for measure in measures or all_measures()]
    with tempfile.TemporaryDirectory(prefix="instructions-") as workdir:
        found = _count_pairs(pairs, requests, jobs, Path(workdir), environ or child_environment())
    counts: dict[str, dict[Measure, Count]] = {python: {} for python in pythons}
    for (python, measure), count in found.items():
        counts[python][measure] = count
    return counts


def _count_pairs(
    pairs: list[tuple[str, Measure]],
    requests: int,
    jobs: int,
    workdir: Path,
    environ: dict[str, str],
) -> dict[tuple[str, Measure], Count]:
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        # Every measure runs once without valgrind first: it fails fast if it cannot run,
        # and the modules' bytecode is cached before any count (compiling them would count
        # in whichever run came first).
        for check in [pool.submit(check_child, *pair, environ) for pair in pairs]:
            check.result()
        futures = {
            pair: pool.submit(measure_once, *pair, requests, workdir, environ) for pair in pairs
        }
        found = {}
        for (python, measure), future in futures.items():
            count = future.result()
            _checked(python, measure, count.child)
            found[python, measure] = count
            print(
                f"  {count.child['python']} {measure.key}: {count.per_request:,.0f}",
                file=sys.stderr,
                flush=True,
            )
    return found


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _signed(value: float) -> str:
    return f"{value:+,.0f}"


def tables(counts: dict[str, dict[Measure, Count]], requests: int) -> list[Table]:
    pythons = list(counts)
    names = [f"Python {next(iter(counts[p].values())).child['python']}" for p in pythons]

    def of(python: str, route: str, variant: str, without: str | None = None) -> float:
        return counts[python][Measure(route, variant, without)].per_request

    totals = Table("Instructions per request (per call, outbound)", ["", *names])
    for route in ROUTES:
        totals.rows += [
            [f"{route}, bare Flask", *(_n(of(p, route, "bare")) for p in pythons)],
            [f"{route}, traced", *(_n(of(p, route, "traced")) for p in pythons)],
            [
                f"{route}, added by tracing",
                *(_n(of(p, route, "traced") - of(p, route, "bare")) for p in pythons),
            ],
        ]
    plain = [of(p, OUTBOUND, "requests") for p in pythons]
    traced = [of(p, OUTBOUND, "traced") for p in pythons]
    totals.rows += [
        ["outbound, `requests.Session`", *map(_n, plain)],
        ["outbound, `TracedSession`", *map(_n, traced)],
        ["outbound, added by tracing", *(_signed(t - r) for t, r in zip(traced, plain))],
    ]
    totals.notes.append(
        f"(I(2N) - I(N)) / N, N = {requests}, after {WARMUP} warm-up requests, cyclic GC "
        "off during the counted ones; cachegrind, PYTHONHASHSEED=0, the children's "
        "environment PATH and LC_ALL only unless the command says --inherit-env; "
        "inbound straight into the WSGI app "
        "(benchmarks.apps, events through JsonFormatter into a discarding handler); "
        "outbound through a canned-response adapter (benchmarks.outbound, no socket)"
    )

    paths = Table(
        "What each fast path buys: instructions added when it is swapped for the public path",
        ["fast path", "public-API path it replaces", "route", *names],
    )
    flagged = []
    for name, path in PUBLIC_PATHS.items():
        routes = ROUTES if path.side == "inbound" else (OUTBOUND,)
        for route in routes:
            cells = []
            for python, shown in zip(pythons, names):
                if path.side == "inbound":
                    cost = of(python, route, "traced", name) - of(python, route, "traced")
                    share = cost / (of(python, route, "traced") - of(python, route, "bare"))
                    cells.append(f"{_signed(cost)} ({share:.1%} of the added)")
                else:
                    cost = of(python, route, "traced", name) - of(python, route, "traced")
                    share = cost / of(python, route, "traced")
                    cells.append(f"{_signed(cost)} ({share:.0%} of a traced call)")
                if share < CLEAR_SHARE:
                    flagged.append(f"{name}, {route}, {shown}: {share:.1%}")
            paths.rows.append([path.label, path.replaces, route, *cells])
    paths.notes.append(
        "inbound share: of what tracing adds to the bare app on that route; outbound: of a "
        "traced call with the fast path in place"
    )
    paths.notes.extend(f"under {CLEAR_SHARE:.0%}: {line}" for line in flagged)
    return [totals, paths]


def render(counts: dict[str, dict[Measure, Count]], requests: int, command: str) -> str:
    parts = ["## Instruction counts", "", f"Command: `{command}`", ""]
    parts += machine_lines()[:2]  # date, commit and machine: the package lines follow per Python
    for python, by_measure in counts.items():
        child = next(iter(by_measure.values())).child
        versions = ", ".join(f"{dist} {version}" for dist, version in child["versions"].items())
        parts.append(f"- Python {child['python']} ({python}): {versions}")
    for table in tables(counts, requests):
        parts += ["", table.to_markdown()]
    return "\n".join(parts) + "\n"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--python",
        action="append",
        help="a Python to measure (repeatable; default: the running one)",
    )
    parser.add_argument("-n", "--requests", type=int, default=REQUESTS, help="N (default 40)")
    parser.add_argument("--save", action="store_true", help="write the tracked results instead")
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="valgrind runs at a time"
    )
    parser.add_argument(
        "--inherit-env",
        action="store_true",
        help="give the children this environment (requests scans it on every call)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one measure, in this process
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.child:
        print(json.dumps(run_child(Measure.parse(args.child), args.requests)))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    started = time.monotonic()
    pythons = args.python or [sys.executable]
    environ = child_environment(inherit=args.inherit_env)
    counts = run_all(pythons, args.requests, args.jobs, environ=environ)
    command = "python -m benchmarks.instructions " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    text = render(counts, args.requests, command.strip())
    text += f"\nTotal time: {time.monotonic() - started:.0f} s\n"
    publish(text, "instructions.md", save=args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
