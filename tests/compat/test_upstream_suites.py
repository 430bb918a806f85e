"""requests' and Flask's own test suites pass with tracing on, apart from listed differences.

Each suite comes from the sdist of the installed version and runs once without tracing
and once per tracing mode. A traced run must give every test the outcome the plain run
gave it, except the differences listed, with reasons, in ``known_differences.py``; every
event it logs must be one JSON object holding none of the secrets the suites send.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from known_differences import DESELECTED, DIFFERENCES, KNOWN_LEAKS, WITHOUT_TRACING
from secret_scan import findings
from upstream import SUMMARY, Run, run_suite, source_tree

pytestmark = pytest.mark.compat

TRACED_MODES = {"requests": ["session", "adapter"], "flask": ["flask"]}
_plain_runs: dict[str, Run] = {}


def _run(suite: str, mode: str, workdir: Path) -> Run:
    tree = source_tree(suite)
    run = run_suite(tree, mode, workdir, set(DESELECTED[suite]))
    SUMMARY.append(f"{tree.name:16} {mode:8} {run.counts()}")
    return run


def _plain(suite: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    if suite not in _plain_runs:
        _plain_runs[suite] = _run(suite, "plain", tmp_path_factory.mktemp(f"{suite}-plain"))
    return _plain_runs[suite]


@pytest.mark.parametrize("suite", ["requests", "flask"])
def test_plain_run_fails_only_where_listed(
    suite: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain = _plain(suite, tmp_path_factory)

    assert plain.ids("passed"), plain.output[-5000:]
    assert plain.ids("failed") == set(WITHOUT_TRACING[suite]), plain.output[-20000:]
    assert plain.event_lines == []


CASES = [(suite, mode) for suite, modes in TRACED_MODES.items() for mode in modes]


@pytest.mark.parametrize(("suite", "mode"), CASES, ids=[f"{s}-{m}" for s, m in CASES])
def test_traced_run_differs_only_where_listed(
    suite: str, mode: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain = _plain(suite, tmp_path_factory)
    run = _run(suite, mode, tmp_path_factory.mktemp(f"{suite}-{mode}"))

    changed = {
        test: f"{plain.outcomes.get(test)} -> {outcome}"
        for test, outcome in run.outcomes.items()
        if outcome != plain.outcomes.get(test)
    }
    listed = DIFFERENCES[mode]
    unexpected = {test: change for test, change in changed.items() if test not in listed}
    assert not unexpected, f"outcomes changed by tracing: {unexpected}\n{run.output[-20000:]}"
    no_longer = sorted(set(listed) - set(changed))
    assert not no_longer, f"listed in known_differences.py but unchanged now: {no_longer}"

    assert run.event_lines, "tracing was on but no event was logged"
    problems = []
    leaks_seen = set()
    for line in run.event_lines:
        for where, what in findings(line):
            known = [prefix for prefix in KNOWN_LEAKS if where.startswith(prefix)]
            if known:
                leaks_seen.update(known)
            else:
                problems.append(f"{where}: {what} in {line[:500]}")
    assert not problems, f"{len(problems)} bad event(s):\n" + "\n".join(problems[:30])
    if suite == "requests":  # the suite whose server echoes secrets back
        assert leaks_seen == set(KNOWN_LEAKS), "a KNOWN_LEAKS entry is no longer found: remove it"
