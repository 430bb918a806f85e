"""Every code block of the README and of docs/ runs as written.

Blocks are read with ``doc_blocks`` (its docstring lists the HTML comment markers a page
may put before a block). Each python program runs in a fresh process in an empty folder
(logging set-up is process-wide; a recipe may write a file); a ``<!-- pytest -->`` block
is run with pytest, through the fixtures the installed package registers. Shell blocks
are not run here: the quick start's two commands are run by tests/functional/test_demo.py
and by CI, and docs/logging.md's gunicorn commands by test_logging_recipes.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import ROOT, blocks, marked, python_programs

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
PROGRAMS = [
    pytest.param(code, id=f"{page}:{line}")
    for page in PAGES
    for line, code in python_programs(page)
]
TESTS = [
    pytest.param(block.code, id=f"{page}:{block.line}")
    for page in PAGES
    for block in marked(page, "pytest")
]


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("code", PROGRAMS)
def test_python_block_runs(code, tmp_path):
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("code", TESTS)
def test_pytest_block_passes(code, tmp_path):
    (tmp_path / "test_block.py").write_text(code)
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b[1-9]\d* passed", done.stdout)


def test_every_python_block_is_run_or_says_why_not():
    for page in PAGES:
        for block in blocks(page):
            if block.lang == "python" and block.marker == "skip":
                assert block.argument, f"{page}:{block.line}: say why the block is skipped"


def test_the_readme_event_is_what_the_example_prints(tmp_path):
    (shown,) = [block for block in blocks("README.md") if block.lang == "json"]
    done = _run([sys.executable, str(ROOT / "examples" / "show_event.py")], tmp_path)
    assert done.returncode == 0, done.stderr

    printed, shown_event = json.loads(done.stdout), json.loads(shown.code)
    for event in (printed, shown_event):  # what changes from run to run
        del event["ts"], event["span_id"], event["msg_dict"]["start_time"]
        del event["msg_dict"]["headers"]["User-Agent"]  # names the Werkzeug version
    assert printed == shown_event


def test_every_code_block_is_closed_by_a_fence_of_its_own(tmp_path):
    unclosed = []
    for page in PAGES:
        try:
            blocks(page)
        except ValueError as exc:  # a fence that does not stand on its own line
            unclosed.append(str(exc))
    assert unclosed == []

    broken = tmp_path / "broken.md"
    broken.write_text("```\n$ traced-http list```\n\n## API\n\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match="a fence inside an open block"):
        blocks(str(broken))


def test_links_lead_to_files_and_headings_that_exist():
    for page in PAGES:
        text = (ROOT / page).read_text(encoding="utf-8")
        prose = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)
        anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", prose, flags=re.M)}
        for target in re.findall(r"\]\(([^)]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            if path:
                assert (ROOT / page).parent.joinpath(path).exists(), f"{page}: {target}"
            else:
                assert anchor in anchors, f"{page}: no heading for #{anchor}"


def test_every_document_a_page_names_is_in_the_repository():
    for page in PAGES:
        text = re.sub(r"https?://\S+", "", (ROOT / page).read_text(encoding="utf-8"))
        for name in re.findall(r"[\w./-]+\.md\b", text):
            if name.startswith("benchmarks/results/local/"):  # a local run's, not tracked
                continue
            here = (ROOT / page).parent / name
            assert here.exists() or (ROOT / name).exists(), f"{page} names {name}"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercased, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_ci_runs_the_readmes_test_command():
    (command,) = [
        line
        for block in blocks("README.md")
        if block.lang == "sh"
        for line in block.code.splitlines()
        if line.endswith("-m pytest")
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert command.replace("python3 ", '"$PYTHON" ', 1) + " 2>&1" in ci
