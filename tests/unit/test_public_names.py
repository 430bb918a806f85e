"""The package's public names: each one importable, the outbound ones loaded on first use
and named alike in the lazy table, the type checkers' imports and the session module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import traced_http
from traced_http import session

CHECK = """
import sys
import traced_http
loaded_at_import = "requests" in sys.modules
missing = [name for name in traced_http.__all__ if getattr(traced_http, name, None) is None]
print(loaded_at_import, missing)
"""


def test_every_exported_name_resolves_and_requests_loads_only_when_one_is_used():
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split("\n")[0] == "False []", result.stdout


def test_the_lazy_outbound_names_are_the_session_modules_exports():
    lazy_from_session = {
        name for name, module in traced_http._OUTBOUND.items() if module == "session"
    }

    assert lazy_from_session == set(session.__all__) - {"DEFAULT_TIMEOUT"}


def test_the_type_checkers_imports_are_the_lazy_outbound_names():
    tree = ast.parse(Path(traced_http.__file__).read_text(encoding="utf-8"))
    (block,) = (
        node
        for node in tree.body
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    imported = {
        (node.module, alias.asname)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }

    assert imported == {
        (f"traced_http.{module}", name) for name, module in traced_http._OUTBOUND.items()
    }
