"""``traced-http export --otlp URL FILES``: yesterday's logs into a backend."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Callable

import pytest
from loopback import closed_url

import traced_http as traced
from traced_http.propagation import w3c_trace_id
from traced_http.testing import capture_events, intercept_calls, route_to_app
from traced_http.viewer.cli import main


@pytest.fixture
def logs(make_app: Callable[..., Any], tmp_path: Path) -> tuple[list[Path], list[dict[str, Any]]]:
    """Two services' logs, one of them gzipped, mixed with other lines; 3 traces."""
    billing = make_app("billing")

    @billing.route("/charge/<int:n>")
    def charge(n: int) -> Any:
        traced.add_event("charged", {"n": n})
        return {"ok": True}

    orders = make_app("orders")

    @orders.route("/orders/<int:n>")
    def order(n: int) -> Any:
        return traced.get(f"http://billing.test/charge/{n}").json()

    with capture_events() as events, intercept_calls() as rsps:
        route_to_app(rsps, "http://billing.test", billing)
        client = orders.test_client()
        client.get("/orders/1")
        client.get("/orders/2", headers={"X-Request-ID": "req-391"})
        client.get("/orders/3")
    lines = {name: [] for name in ("orders", "billing")}
    for event in events:
        lines[event["service"]].append(json.dumps(event))
    plain = tmp_path / "orders.log"
    plain.write_text("starting up\n" + "\n".join(lines["orders"]) + "\n")
    zipped = tmp_path / "billing.log.gz"
    zipped.write_bytes(gzip.compress(("\n".join(lines["billing"]) + "\n").encode()))
    return [plain, zipped], events


def test_export_sends_every_span_once_with_the_log_ids(logs, receiver, capsys):
    paths, events = logs
    status = main(["export", "--otlp", receiver.base_url, *map(str, paths)])
    out = capsys.readouterr().out
    assert status == 0
    spans = receiver.spans()
    assert len(spans) == 9  # per trace: orders request, its call, billing request
    assert {s.span_id for s in spans} == {e["span_id"] for e in events}
    assert {s.trace_id for s in spans} == {w3c_trace_id(e["traceid"]) for e in events}
    assert [e.name for s in spans for e in s.span.events] == ["charged"] * 3
    assert out.strip() == (f"exported 9 spans of 3 traces to {receiver.base_url}/v1/traces")


def test_undeliverable_spans_exit_non_zero_with_a_count(logs, monkeypatch, capsys):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "0.5")
    paths, _ = logs
    status = main(["export", "--otlp", closed_url(), *map(str, paths)])
    assert status == 1
    assert "9 spans could not be delivered" in capsys.readouterr().out


def test_a_url_that_is_not_http_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        main(["export", "--otlp", "localhost:4318", str(tmp_path / "x.log")])
    assert stopped.value.code == 2
