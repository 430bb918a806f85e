"""Link spans into trees: parents from `parent_id`, siblings in start order.

A span whose parent is not in the logs (a service whose log was not given) becomes an
orphan under its trace's first root, marked, so it is shown rather than lost. Data that
forms a cycle is broken up the same way, so every span appears exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from traced_http.viewer.spans import Span, collect_spans

Key = tuple[str, str]


@dataclass
class SpanNode:
    """A span and its children, ordered by start time; `orphan` when its parent is missing."""

    span: Span
    children: list[SpanNode] = field(default_factory=list)
    orphan: bool = False

    def walk(self) -> Iterator[tuple[SpanNode, int]]:
        """Every node of this subtree with its depth, parents before children, in order."""
        stack: list[tuple[SpanNode, int]] = [(self, 0)]
        while stack:
            node, depth = stack.pop()
            yield node, depth
            stack.extend((child, depth + 1) for child in reversed(node.children))


def _order(node: SpanNode) -> tuple[float, int, str]:
    span = node.span
    time = span.sort_time
    return (
        time if time is not None else float("inf"),
        span.first_index if span.first_index is not None else 0,
        span.span_id,
    )


def build_tree(events: Iterable[dict[str, Any]]) -> list[SpanNode]:
    """Rebuild the span trees of the given events; returns the roots, earliest first.

    Roots are spans without a parent. Orphans hang under the earliest root of their
    trace; a trace with no root at all shows its orphans as top-level nodes.
    """
    spans = collect_spans(events)
    nodes = {key: SpanNode(span) for key, span in spans.items()}
    children: dict[Key, list[SpanNode]] = {}
    roots: list[SpanNode] = []
    orphans: list[SpanNode] = []
    for key, node in nodes.items():
        parent = node.span.parent_id
        if parent is None:
            roots.append(node)
        elif (key[0], parent) in nodes:
            children.setdefault((key[0], parent), []).append(node)
        else:
            orphans.append(node)
    placed = _place(roots + orphans, children, nodes)
    # Whatever is left is caught in a parent cycle: cut it loose as an orphan.
    for key in sorted(set(nodes) - placed, key=lambda k: _order(nodes[k])):
        if key not in placed:
            orphans.append(nodes[key])
            placed |= _place([nodes[key]], children, nodes, cut_from=key)
    return _attach_orphans(roots, orphans)


def _place(
    tops: list[SpanNode],
    children: dict[Key, list[SpanNode]],
    nodes: dict[Key, SpanNode],
    cut_from: Key | None = None,
) -> set[Key]:
    """Give each node its children below `tops`; return the keys now in a tree."""
    placed: set[Key] = set()
    stack = list(tops)
    while stack:
        node = stack.pop()
        key = (node.span.trace_id, node.span.span_id)
        placed.add(key)
        kids = [
            kid
            for kid in children.get(key, [])
            if (kid.span.trace_id, kid.span.span_id) != cut_from
        ]
        node.children = sorted(kids, key=_order)
        stack.extend(kids)
    return placed


def _attach_orphans(roots: list[SpanNode], orphans: list[SpanNode]) -> list[SpanNode]:
    first_root: dict[str, SpanNode] = {}
    for root in sorted(roots, key=_order):
        first_root.setdefault(root.span.trace_id, root)
    tops = list(roots)
    for orphan in orphans:
        orphan.orphan = True
        home = first_root.get(orphan.span.trace_id)
        if home is None:
            tops.append(orphan)
        else:
            home.children.append(orphan)
            home.children.sort(key=_order)
    return sorted(tops, key=_order)
