"""The package's public names: each one importable, the outbound ones loaded on first use."""

from __future__ import annotations

import subprocess
import sys

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
