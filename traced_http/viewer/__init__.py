"""The trace viewer: rebuild traces from JSON event lines and show them.

`build_tree` is the piece other code reuses (the testing kit checks chains with it); the
rest serves the `traced-http` command.
"""

from __future__ import annotations

from traced_http.viewer.spans import Annotation, ErrorInfo, Span
from traced_http.viewer.tree import SpanNode, build_tree

__all__ = ["Annotation", "ErrorInfo", "Span", "SpanNode", "build_tree"]
