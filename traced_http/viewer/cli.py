"""The `traced-http` command: list traces, show one, route statistics, doctor and diff.

Inputs are files, globs, gzip files or standard input, from any number of services and
in any order. The command streams them: `list` and `stats` keep a small record per
trace or request, `show` keeps the events of the chosen trace only.
"""

from __future__ import annotations

import argparse
import glob
import io
import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from traced_http.otlp.offline import add_export_parser, run_export
from traced_http.viewer.diff import LogSet, compare_logs, render_log_diff, render_trace_diff
from traced_http.viewer.doctor import Doctor, render_findings
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
from traced_http.viewer.times import parse_duration, parse_when
from traced_http.viewer.trace import make_trace
from traced_http.viewer.tree import build_tree

Event = dict[str, Any]
PROG = "traced-http"


EXAMPLES = """\
examples:
  traced-http list logs/*.log                       one line per trace
  traced-http list --errors --slower-than 250ms --since 15m logs/*.log
  traced-http show 4bf9 logs/*.log                  one trace as a tree (an id prefix is enough)
  traced-http show 4bf9 -o trace.html logs/*.log    the same as a self-contained HTML page
  traced-http stats --service orders logs/*.log     count, errors, p50/p95/p99 per route
  traced-http doctor logs/*.log                     where trace propagation breaks
  traced-http diff 4bf9 0af7 logs/*.log             two traces side by side
  traced-http diff 'before/*.log' 'after/*.log'     two sets of logs: what got slower
  kubectl logs deploy/orders | traced-http list     logs on standard input

Lines may carry any prefix before the JSON object (logging.basicConfig's
"INFO:traced_http:", docker compose's "orders-1  | ", journald and Kubernetes stamps).
"""

_FORMATS_BY_EXTENSION = {".html": "html", ".htm": "html", ".json": "json", ".txt": "text"}


class UserError(Exception):
    """A problem to report in one line and exit 1: no such trace, unreadable input."""


def _version() -> str:
    from traced_http import __version__

    return f"{PROG} {__version__}"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--no-color", action="store_true", help="never colour the output")
    common.add_argument(
        "-q", "--quiet", action="store_true", help="do not report skipped lines on stderr"
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Read traced-http JSON event logs and show the traces in them.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    lister = commands.add_parser("list", parents=[common], help="one line per trace")
    lister.add_argument(
        "--service", action="append", help="only traces touching SERVICE (repeat for more)"
    )
    lister.add_argument("--errors", action="store_true", help="only traces with a failure")
    lister.add_argument(
        "--slower-than",
        type=_duration,
        metavar="TIME",
        help="only traces that took longer: 250ms, 1.5s, 2m (a bare number is ms)",
    )
    lister.add_argument(
        "--since", type=_when, help="only traces from then on: ISO time, epoch seconds or age (15m)"
    )
    lister.add_argument(
        "--until", type=_when, help="only traces until then: ISO time, epoch seconds or age (15m)"
    )
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
    shower.add_argument(
        "--format",
        choices=("text", "json", "html"),
        help="text (the default), json, or html (one self-contained page); "
        "with -o, the file's extension chooses when this is not given",
    )
    shower.add_argument(
        "-o", "--output", metavar="FILE", help="write to FILE, not stdout (trace.html, trace.json)"
    )

    stats = commands.add_parser(
        "stats", parents=[common], help="count, error rate, p50/p95/p99 per service and route"
    )
    stats.add_argument("--service", action="append", help="only SERVICE's routes (repeat for more)")

    doctor = commands.add_parser(
        "doctor",
        parents=[common],
        help="where trace propagation breaks: lost context, untraced clients, clock skew",
        description="Find where trace propagation breaks. Exits 0 when nothing is found, "
        "3 when there are findings, 1 when the inputs hold no events.",
    )

    differ = commands.add_parser(
        "diff",
        parents=[common],
        help="two traces side by side, or two sets of logs (before and after)",
        description="A and B are trace ids (or prefixes) found in FILE..., or two log files "
        "or globs: then per route and per call, p50/p95 and error rate are compared, "
        "the largest impact first.",
    )
    differ.add_argument("a", metavar="A", help="a trace id or prefix, or a log file or glob")
    differ.add_argument("b", metavar="B", help="a trace id or prefix, or a log file or glob")
    differ.add_argument(
        "--limit", type=int, metavar="N", help="comparing logs: show the N largest changes only"
    )
    server = commands.add_parser(
        "serve", parents=[common], help="a local web UI over log files, following them"
    )
    server.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    server.add_argument("--port", type=int, default=8040, help="port (8040; 0 picks a free one)")
    server.add_argument("--open", action="store_true", help="open the UI in a web browser")
    server.add_argument(
        "inputs",
        nargs="*",
        metavar="LOG",
        help="event logs: files, folders (every file in them), .gz files, or - for stdin",
    )
    for command in (lister, shower, stats, doctor, differ):
        command.add_argument(
            "inputs",
            nargs="*",
            metavar="FILE",
            help="event logs: files, globs, .gz files, or - for standard input (the default)",
        )
    add_export_parser(commands, common)
    return parser


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _when(text: str) -> float:
    try:
        return parse_when(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _events(inputs: list[str], counts: ReadCounts, needle: bytes | None = None) -> Iterator[Event]:
    """Read the inputs, with a progress line when stderr is a terminal."""
    if inputs == ["-"] and sys.stdin.isatty():
        raise UserError("no input: give log files or globs, or pipe the logs in")
    paths = expand_inputs(inputs)
    progress = Progress(sys.stderr, input_size(paths)) if sys.stderr.isatty() else None
    try:
        yield from read_events(paths, counts, needle, progress)
    finally:
        if progress is not None:
            progress.finish()


def _require_events(inputs: list[str], counts: ReadCounts) -> None:
    """Stop with a message when the inputs held no event at all: wrong file or format."""
    if counts.events:
        return
    names = ["standard input" if name == "-" else name for name in inputs]
    shown = ", ".join(clean(name) for name in names[:3])
    if len(names) > 3:
        shown += f" and {len(names) - 3} more"
    raise UserError(
        f"no traced-http events in {shown} ({counts.lines:,} lines read): expected JSON "
        'lines with "traceid" and "event_des", as traced_http.JsonFormatter writes them'
    )


def _keep(summary: TraceSummary, args: argparse.Namespace, services: int) -> bool:
    if args.service and not summary.service_bits & services:
        return False
    if args.errors and not summary.error:
        return False
    duration = summary.duration
    if args.slower_than is not None and (duration is None or duration <= args.slower_than):
        return False
    start = summary.start
    if args.since is not None and (start is None or start < args.since):
        return False
    return args.until is None or (start is not None and start <= args.until)


def _list(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    summaries = Summaries()
    summaries.add_all(_events(args.inputs, counts))
    _require_events(args.inputs, counts)
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


def _select(events: Iterable[Event], wanted: Sequence[str]) -> list[tuple[str, list[Event]]]:
    """For each prefix in `wanted`: the events of the one trace whose id is it or, if
    unique, starts with it.

    Only one trace's events are kept per prefix at a time; another matching id is only
    noted (for the message), since an exact match later in the input still wins.
    """
    chosen: list[str | None] = [None] * len(wanted)
    chosen_events: list[list[Event]] = [[] for _ in wanted]
    other: list[str | None] = [None] * len(wanted)
    for event in events:
        trace_id: str = event["traceid"]
        for i, prefix in enumerate(wanted):
            if trace_id == chosen[i]:
                chosen_events[i].append(event)
            elif not trace_id.startswith(prefix) or chosen[i] == prefix:
                continue  # another trace, or a longer id once the exact one was found
            elif chosen[i] is None or trace_id == prefix:
                chosen[i], chosen_events[i] = trace_id, [event]
            elif other[i] is None:
                other[i] = trace_id
    result = []
    for prefix, found, events_of, another in zip(wanted, chosen, chosen_events, other):
        if found is None:
            raise UserError(f"no trace id starts with {clean(prefix)}")
        if another is not None and found != prefix:
            raise UserError(
                f"{clean(prefix)} matches several traces ({clean(found)}, "
                f"{clean(another)}, ...): give more of the id"
            )
        result.append((found, events_of))
    return result


def _output_format(args: argparse.Namespace) -> str:
    """The format asked for, else the one the output file's extension names, else text."""
    if args.output is None:
        return str(args.format or "text")
    extension = os.path.splitext(args.output)[1].lower()
    named = _FORMATS_BY_EXTENSION.get(extension)
    if args.format is None and named is None:
        _warn(
            f"writing text to {clean(args.output)}; for a page or data, give --format html "
            "or --format json, or name the file .html or .json"
        )
    elif args.format is not None and named is not None and named != args.format:
        _warn(f"writing {args.format} to {clean(args.output)}, whose name says {named}")
    return str(args.format or named or "text")


def _warn(message: str) -> None:
    sys.stderr.write(f"{PROG}: warning: {message}\n")


def _check_writable(path: str) -> None:
    """Fail before reading the logs when the output file clearly cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    problem = None
    if os.path.isdir(path):
        problem = "it is a folder"
    elif not os.path.isdir(folder):
        problem = f"no folder {clean(folder)}"
    elif not os.access(path if os.path.exists(path) else folder, os.W_OK):
        problem = "permission denied"
    if problem is not None:
        raise UserError(f"cannot write {clean(path)}: {problem}")


def _write(path: str, text: str) -> None:
    """Write the output file; lone surrogates from the logs become visible escapes."""
    try:
        with open(path, "w", encoding="utf-8", errors="backslashreplace") as target:
            target.write(text + "\n")
    except OSError as exc:
        raise UserError(f"cannot write {clean(path)}: {exc.strerror or exc}") from None


def _show(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    wanted = args.trace_id.strip()
    if not wanted:
        raise UserError("give a trace id or a prefix of one")
    if args.output is not None:
        _check_writable(args.output)
    output_format = _output_format(args)
    ((trace_id, events),) = _select(_events(args.inputs, counts, wanted.encode("utf-8")), [wanted])
    trace = make_trace(trace_id, build_tree(events))
    if output_format == "json":
        try:
            text = render_json(trace, counts)
        except RecursionError:
            raise UserError("the trace nests spans too deeply to write as JSON") from None
    elif output_format == "html":
        text = render_html(trace)
    else:
        use_colour = args.output is None and colour_wanted(out, args.no_color)
        columns = shutil.get_terminal_size().columns if out.isatty() else 120
        text = render_trace(trace, Style(use_colour), columns)
    if args.output is None:
        out.write(text + "\n")
    else:
        _write(args.output, text)
    return 0


def _stats(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    stats = Stats()
    stats.add_all(_events(args.inputs, counts))
    _require_events(args.inputs, counts)
    rows = [r for r in stats.rows() if not args.service or r.service in args.service]
    out.write(render_stats(rows, Style(colour_wanted(out, args.no_color))) + "\n")
    return 0


def _doctor(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    doctor = Doctor()
    doctor.add_all(_events(args.inputs, counts))
    _require_events(args.inputs, counts)
    findings = doctor.findings()
    out.write(render_findings(findings, counts.events) + "\n")
    return 3 if findings else 0


def _is_logs(argument: str) -> bool:
    """Whether a `diff` argument names log files rather than a trace id."""
    if os.path.isfile(os.path.expanduser(argument)):
        return True
    return glob.has_magic(argument) and bool(glob.glob(os.path.expanduser(argument)))


def _diff(args: argparse.Namespace, counts: ReadCounts, out: TextIO) -> int:
    a_logs, b_logs = _is_logs(args.a), _is_logs(args.b)
    if a_logs != b_logs:
        raise UserError(
            "give two trace ids (and the logs that hold them) or two log files or globs, "
            f"not one of each ({clean(args.a)}, {clean(args.b)})"
        )
    if a_logs:
        if args.inputs != ["-"]:
            raise UserError(
                "comparing two sets of logs takes two arguments: quote globs "
                "('before/*.log') so that the shell does not expand them"
            )
        sets = []
        for argument in (args.a, args.b):
            log_set, set_counts = LogSet(), ReadCounts()
            log_set.add_all(_events([argument], set_counts))
            _require_events([argument], set_counts)
            for name in ("lines", "events", "not_events", "broken", "bytes_read"):
                setattr(counts, name, getattr(counts, name) + getattr(set_counts, name))
            sets.append(log_set)
        out.write(render_log_diff(compare_logs(*sets), args.limit) + "\n")
        return 0
    wanted = [args.a.strip(), args.b.strip()]
    if not all(wanted):
        raise UserError("give two trace ids or prefixes")
    (a_id, a_events), (b_id, b_events) = _select(_events(args.inputs, counts), wanted)
    before = make_trace(a_id, build_tree(a_events))
    after = make_trace(b_id, build_tree(b_events))
    out.write(render_trace_diff(before, after) + "\n")
    return 0


COMMANDS = {
    "list": _list,
    "show": _show,
    "stats": _stats,
    "doctor": _doctor,
    "diff": _diff,
    "export": run_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 done, 1 nothing to show, 2 bad usage;
    `doctor`: 3 when it found problems)."""
    parser = _parser()
    args, extras = parser.parse_known_args(argv)
    # argparse leaves files that follow an option (`show ID --format json a.log`) unparsed.
    unknown = [extra for extra in extras if extra.startswith("-") and extra != "-"]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.inputs = [*args.inputs, *extras] or ["-"]
    out = sys.stdout
    if isinstance(out, io.TextIOWrapper):
        out.reconfigure(errors="replace")
    counts = ReadCounts()
    if args.command == "serve":
        from traced_http.viewer import serve  # the web server's modules, only when asked

        return serve.run(args, out)
    try:
        status = COMMANDS[args.command](args, counts, out)
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
