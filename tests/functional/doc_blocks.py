"""The code blocks of a Markdown page, with the HTML comment that marks each one.

A marker is an HTML comment on the line just before a block's opening fence; readers of
the rendered page do not see it. The markers the documentation tests understand:

- ``<!-- skip: why -->``: the block is not run (say why).
- ``<!-- continue -->``: the block runs together with the block before it, as one program
  (a page may show an example in two parts, with text between them).
- ``<!-- pytest -->``: the block is a test module; it is run with pytest.
- ``<!-- file: NAME -->``: the block is a file the page talks about (a gunicorn config);
  a test writes it under NAME and uses it.
- ``<!-- recipe: NAME -->``: the block sets something up (a logging recipe); a test named
  for it runs it with an app and checks the outcome.

A python block with no marker is a complete program: it is run as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_FENCE = re.compile(r"^```(\w*)\s*$")
_MARKER = re.compile(r"^<!--\s*([a-z]+)(?::\s*(.*?))?\s*-->\s*$")


@dataclass
class Block:
    """One fenced block: its language, its code, its marker and where it starts."""

    lang: str
    code: str
    line: int
    marker: str | None = None
    argument: str = ""


def blocks(page: str) -> list[Block]:
    """Every fenced block of ``page`` (a path relative to the repository), in order."""
    lines = (ROOT / page).read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if fence is None:
            index += 1
            continue
        start = index
        index += 1
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != "```":
            # A fence that does not stand alone would swallow the rest of the page.
            if _FENCE.match(lines[index]) or lines[index].rstrip().endswith("```"):
                raise ValueError(f"{page}:{index + 1}: a fence inside an open block")
            body.append(lines[index])
            index += 1
        index += 1
        marker = _MARKER.match(lines[start - 1]) if start > 0 else None
        found.append(
            Block(
                fence.group(1),
                "\n".join(body) + "\n",
                start + 1,
                marker.group(1) if marker else None,
                (marker.group(2) or "") if marker else "",
            )
        )
    return found


def python_programs(page: str) -> list[tuple[int, str]]:
    """``(line, code)`` of each python program the page shows, continuations joined."""
    programs: list[tuple[int, str]] = []
    for block in blocks(page):
        if block.lang != "python" or block.marker in ("skip", "pytest", "file", "recipe"):
            continue
        if block.marker == "continue":
            line, code = programs[-1]
            programs[-1] = (line, code + block.code)
        else:
            programs.append((block.line, block.code))
    return programs


def marked(page: str, marker: str, argument: str | None = None) -> list[Block]:
    """The blocks of ``page`` with this marker (and argument, when given)."""
    return [
        block
        for block in blocks(page)
        if block.marker == marker and (argument is None or block.argument == argument)
    ]
