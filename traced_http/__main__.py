"""`python -m traced_http`: the trace viewer command."""

from __future__ import annotations

from traced_http.viewer.cli import main

raise SystemExit(main())
