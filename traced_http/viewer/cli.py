"""The `traced-http` command: list traces, show one, and route statistics.

Inputs are files, globs, gzip files or standard input, from any number of services and
in any order. The command streams them: `list` and `stats` keep a small record per
trace or request, `show` keeps the events of the chosen trace only.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from traced_http.otlp.offline import add_export_parser, run_export
from traced_http.viewer.progress import Progress
from traced_http.viewer.reader import (
    InputError,
    ReadCounts,
    expand_inputs,
    input_size,
    read_events,
)
from traced_http.viewer.render_html import render_html
from traced_http.viewer.render_json import render_json
from traced_http.viewer.render_text import render_trace
from traced_http.viewer.sanitize import clean
from traced_http.viewer.stats import Stats
from traced_http.viewer.style import Style, colour_wanted
from traced_http.viewer.summary import Summaries, TraceSummary
from traced_http.viewer.tables import render_list, render_stats
from traced_http.viewer.times import parse_when
from traced_http.viewer.trace import make_trace
from traced_http.viewer.tree import build_tree

Event = dict[str, Any]
PROG = "traced-http"


class UserError(Exception):
    """A problem to report in one line and exit 1: no such trace, unreadable input."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-color", action="store_true", help="never colour the output")
    common.add_argument(
        "-q", "--quiet", action="store_true", help="do not report skipped lines on stderr"
    )
    parser = argparse.ArgumentParser(
        prog=PROG, description="Read traced-http JSON event logs and show the traces in them."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lister = commands.add_parser("list", parents=[common], help="one line per trace")
    lister.add_argument("--service", action="append", help="only traces touching SERVICE")
    lister.add_argument("--errors", action="store_true", help="only traces with a failure")
    lister.add_argument("--slower-than", type=float, metavar="MS", help="only slower traces")
    lister.add_argument("--since", type=_when, help="ISO time, epoch seconds or age (15m)")
    lister.add_argument("--until", type=_when, help="ISO time, epoch seconds or age (15m)")
    lister.add_argument(
        "--sort",
        choices=("time", "duration"),
        default="time",
        help="time: oldest first; duration: slowest first",
    )
    lister.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="keep N traces: the most recent (time order) or the slowest (duration order)",
    )

    shower = commands.add_parser(
        "show", parents=[common], help="the span tree of one trace, with a waterfall"
    )
    shower.add_argument("trace_id", metavar="TRACE_ID", help="a trace id, or a unique prefix")
    shower.add_argument("--format", choices=("text", "json", "html"), default="text")
    shower.add_argument("-o", "--output", metavar="FILE", help="write to FILE, not stdout")

    stats = commands.add_parser(
        "stats", parents=[common], help="count, error rate, p50/p95/p99 per service and route"
    )
    stats.add_argument("--service", action="append", help="only SERVICE's routes")
    for command in (lister, shower, stats):
        command.add_argument(
            "inputs",
            nargs="*",
            metavar="FILE",
            help="event logs: files, globs, .gz files, or - for standard input (the default)",
        )
    add_export_parser(commands, common)
    return parser


def _when(text: str) -> float:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _events(
    args: argparse.Namespace, counts: ReadCounts, needle: bytes | None = None
) -> Iterator[Event]:
    """Read the inputs, with a progress line when stderr is a terminal."""
    inputs: list[str] = args.inputs or ["-"]
    if inputs == ["-"] and sys.stdin.isatty():
        raise UserError("no input: give log files or globs, or pipe the logs in")
    paths = expand_inputs(inputs)
    progress = Progress(sys.stderr, input_size(paths)) if sys.stderr.isatty() else None
    try:
        yield from read_events(paths, counts, needle, progress)
    finally:
        if progress is not None:
            progress.finish()


def _keep(summary: TraceSummary, args: argparse.Namespace, services: int) -> bool:
    if args.service and not summary.service_bits & services:
        return False
    if args.errors and not summary.error:
        return False
    duration = summary.duration
    if args.slower_than is not None and (duration is None or duration * 1000 <= args.slower_than):
        return False
    start = summary.start
    if args.since is not None and (start is None or start < args.since):
        return False
    return args.until is None or (start is not None and start <= args.until)


def _list(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    summaries = Summaries()
    summaries.add_all(_events(args, counts))
    services = summaries.service_mask(args.service or [])
    kept = [s for s in summaries.traces.values() if _keep(s, args, services)]
    if args.sort == "duration":
        kept.sort(key=lambda s: -(s.duration or 0.0))
        if args.limit is not None:
            kept = kept[: max(args.limit, 0)]
    else:
        kept.sort(key=lambda s: (s.start is None, s.start or 0.0, s.trace_id))
        if args.limit is not None:
            kept = kept[len(kept) - max(args.limit, 0) :] if args.limit > 0 else []
    for line in render_list(kept, Style(colour_wanted(out, args.no_color))):
        out.write(line + "\n")
    return 0


def _select(events: Iterator[Event], wanted: str) -> tuple[str, list[Event]]:
    """The events of the one trace whose id is `wanted` or, if unique, starts with it.

    Only one trace's events are kept at a time; other matching ids are only noted (a few,
    for the message), since an exact match later in the input still wins.
    """
    chosen: str | None = None
    chosen_events: list[Event] = []
    others: list[str] = []
    for event in events:
        trace_id: str = event["traceid"]
        if trace_id == chosen:
            chosen_events.append(event)
        elif not trace_id.startswith(wanted) or chosen == wanted:
            continue  # another trace, or a longer id once the exact one was found
        elif chosen is None or trace_id == wanted:
            chosen, chosen_events = trace_id, [event]
        elif len(others) < 3 and trace_id not in others:
            others.append(trace_id)
    if chosen is None:
        raise UserError(f"no trace id starts with {clean(wanted)}")
    if others and chosen != wanted:
        matches = ", ".join(clean(trace_id) for trace_id in [chosen, *others])
        raise UserError(
            f"{clean(wanted)} matches several traces ({matches}, ...): give more of the id"
        )
    return chosen, chosen_events


def _show(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    wanted = args.trace_id.strip()
    if not wanted:
        raise UserError("give a trace id or a prefix of one")
    trace_id, events = _select(_events(args, counts, wanted.encode("utf-8")), wanted)
    trace = make_trace(trace_id, build_tree(events))
    if args.format == "json":
        try:
            text = render_json(trace, counts)
        except RecursionError:
            raise UserError("the trace nests spans too deeply to write as JSON") from None
    elif args.format == "html":
        text = render_html(trace)
    else:
        use_colour = args.output is None and colour_wanted(out, args.no_color)
        columns = shutil.get_terminal_size().columns if out.isatty() else 120
        text = render_trace(trace, Style(use_colour), columns)
    if args.output is None:
        out.write(text + "\n")
    else:
        with open(args.output, "w", encoding="utf-8") as target:
            target.write(text + "\n")
    return 0


def _stats(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    stats = Stats()
    stats.add_all(_events(args, counts))
    rows = [r for r in stats.rows() if not args.service or r.service in args.service]
    out.write(render_stats(rows, Style(colour_wanted(out, args.no_color))) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 1 nothing to show, 2 bad usage)."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    # argparse leaves files that follow an option (`show ID --format json a.log`) unparsed.
    unknown = [extra for extra in extras if extra.startswith("-") and extra != "-"]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.inputs = [*args.inputs, *extras]
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="replace")
    counts = ReadCounts()
    command = {"list": _list, "show": _show, "stats": _stats, "export": run_export}[args.command]
    try:
        status = command(args, counts, out)
        out.flush()
    except (UserError, InputError) as exc:
        sys.stderr.write(f"{PROG}: {exc}\n")
        status = 1
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    skipped = counts.skipped_summary()
    if skipped and not args.quiet:
        sys.stderr.write(f"{PROG}: {skipped}\n")
    return status
