"""Run the whole benchmark suite in one process and write its results as Markdown.

python -m benchmarks.run            # everything, about 4 minutes on 2 cores
python -m benchmarks.run --quick    # smoke run, well under a minute
python -m benchmarks.run --parts inbound,outbound --profile
python -m benchmarks.run --save     # update the tracked benchmarks/results/latest.md

A local run writes to benchmarks/results/local/ (ignored by git); only ``--save``
replaces the tracked results.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Callable

from benchmarks import inbound, outbound, scaling, server
from benchmarks.config import Settings
from benchmarks.report import Table, Target, load_average, publish, render

PARTS: dict[str, Callable[[Settings], tuple[list[Table], list[Target]]]] = {
    "inbound": inbound.run,
    "outbound": outbound.run,
    "scaling": scaling.run,
    "server": server.run,
}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="short smoke run (not for numbers)")
    parser.add_argument(
        "--duration", type=float, help="seconds of wrk per gunicorn variant and worker kind"
    )
    parser.add_argument("--memory-requests", type=int, help="requests measured for memory growth")
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (default: all of {','.join(PARTS)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="Markdown file to write (default: benchmarks/results/local/latest.md)",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="write the tracked benchmarks/results/latest.md (and profile.txt) instead",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the traced variants and write profile.txt next to the results",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    settings = Settings.quick() if args.quick else Settings()
    if args.duration is not None:
        settings = dataclasses.replace(settings, server_seconds=args.duration)
    if args.memory_requests is not None:
        settings = dataclasses.replace(settings, memory_requests=args.memory_requests)
    parts = [part.strip() for part in args.parts.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        print(f"unknown part(s): {', '.join(unknown)}; choose from {', '.join(PARTS)}")
        return 2
    started, load = time.monotonic(), load_average()
    cores = os.cpu_count() or 1
    if load != "unknown" and float(load) > cores / 2:
        print(
            f"note: load average {load} on {cores} cores: other work shares the machine, "
            "figures will be noisier",
            file=sys.stderr,
        )
    tables: list[Table] = []
    targets: list[Target] = []
    for part in parts:
        print(f"[{time.monotonic() - started:5.0f} s] {part} ...", file=sys.stderr, flush=True)
        part_tables, part_targets = PARTS[part](settings)
        tables += part_tables
        targets += part_targets
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])
    title = "Benchmarks" + (" (--quick: smoke run, not for numbers)" if args.quick else "")
    text = render(title.strip(), command.strip(), tables, targets, load)
    text += f"\nTotal time: {time.monotonic() - started:.0f} s\n"
    output = publish(text, "latest.md", save=args.save, output=args.output)
    if args.profile:
        from benchmarks import profile

        profile_path = output.parent / "profile.txt"
        profile_path.write_text(profile.run(), encoding="utf-8")
        print(f"profile written to {profile_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
