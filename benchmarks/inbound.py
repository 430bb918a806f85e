"""Part 1: cost per request of each inbound variant, straight into the WSGI app."""

from __future__ import annotations

from typing import Callable

from flask import Flask

from benchmarks.apps import EVENTS_PER_REQUEST, INBOUND_VARIANTS, LABELS, create_app
from benchmarks.config import Settings
from benchmarks.harness import Case, WsgiCall, run_interleaved
from benchmarks.report import Table, Target, ratio, us

ROUTES: dict[str, Callable[[Flask], WsgiCall]] = {
    "GET /hello": lambda app: WsgiCall(app, "GET", "/hello", query={"name": "bench"}),
    "POST /echo": lambda app: WsgiCall(app, "POST", "/echo", json={"name": "bench"}),
}


def build_apps() -> tuple[dict[str, Flask], dict[str, str]]:
    """Every variant that can be built here, and why the others cannot."""
    apps: dict[str, Flask] = {}
    missing: dict[str, str] = {}
    for variant in INBOUND_VARIANTS:
        try:
            apps[variant] = create_app(variant)
        except (ImportError, AttributeError) as exc:
            missing[variant] = f"{type(exc).__name__}: {exc}"
    return apps, missing


def check_same_responses(apps: dict[str, Flask]) -> list[str]:
    """Problems that would make the comparison unfair: differing status or body."""
    problems = []
    for route, make in ROUTES.items():
        expected = make(apps["bare"]).fetch()
        for variant, app in apps.items():
            got = make(app).fetch()
            if (got.status, got.body) != (expected.status, expected.body):
                problems.append(f"{variant} {route}: {got.status} {got.body[:60]!r}")
    return problems


def events_per_request(app: Flask) -> float | None:
    handler = app.extensions.get("bench_handler")
    if handler is None:
        exporter = app.extensions.get("bench_otel_exporter")
        if exporter is None:
            return None
        before = exporter.total
        ROUTES["GET /hello"](app).fetch()
        return float(exporter.total - before)
    before = handler.count
    ROUTES["GET /hello"](app).fetch()
    return float(handler.count - before)


def run(settings: Settings) -> tuple[list[Table], list[Target]]:
    apps, missing = build_apps()
    problems = check_same_responses(apps)
    medians: dict[str, dict[str, float]] = {}
    overhead: dict[str, dict[str, float]] = {}
    for route, make in ROUTES.items():
        cases = [Case(variant, make(app)) for variant, app in apps.items()]
        timings = run_interleaved(
            cases, repeats=settings.repeats, batch_seconds=settings.batch_seconds
        )
        medians[route] = {name: timing.median for name, timing in timings.items()}
        overhead[route] = {
            name: timing.minus(timings["bare"]).median for name, timing in timings.items()
        }

    table = Table(
        "Inbound: CPU µs per request, straight into the WSGI app",
        ["variant"]
        + [f"{route} {col}" for route in ROUTES for col in ("µs", "overhead µs", "× OTel's")]
        + ["events (spans) per request"],
    )
    for variant in INBOUND_VARIANTS:
        if variant not in apps:
            table.rows.append([LABELS[variant], *(["n/a"] * (3 * len(ROUTES) + 1))])
            continue
        row = [LABELS[variant]]
        for route in ROUTES:
            extra, otel = overhead[route][variant], overhead[route].get("otel")
            row += [us(medians[route][variant]), us(extra), ratio(extra / otel) if otel else "n/a"]
        seen = events_per_request(apps[variant])
        expected = EVENTS_PER_REQUEST[variant]
        shown = "n/a" if seen is None else f"{seen:g}"
        if seen is not None and variant != "otel" and seen != expected:
            shown += f" (expected {expected}!)"
        row.append(shown)
        table.rows.append(row)
    table.notes.append(
        f"median of {settings.repeats} interleaved batches of about "
        f"{settings.batch_seconds * 1000:.0f} ms each; overhead = median of the "
        "round-by-round differences with bare Flask"
    )
    table.notes.extend(f"not measured: {LABELS[v]}: {why}" for v, why in missing.items())
    table.notes.extend(f"RESPONSES DIFFER: {p}" for p in problems)
    return [table], _targets(overhead)


def _targets(overhead: dict[str, dict[str, float]]) -> list[Target]:
    targets = []
    for route, extra in overhead.items():
        mine, otel, recipe = extra.get("traced"), extra.get("otel"), extra.get("recipe")
        targets.append(
            Target(
                f"inbound overhead, default, {route} ≤ 35 µs",
                f"{us(mine)} µs",
                None if mine is None else mine <= 35,
            )
        )
        both = mine is not None and otel
        targets.append(
            Target(
                f"inbound overhead, default, {route} ≤ 0.25 × OpenTelemetry's",
                f"{ratio(mine / otel) if both else 'n/a'} × ({us(otel)} µs)",
                (mine <= 0.25 * otel) if both else None,
            )
        )
        both = mine is not None and recipe
        targets.append(
            Target(
                f"inbound overhead, default, {route} < 0.5 × recipe's",
                f"{ratio(mine / recipe) if both else 'n/a'} × ({us(recipe)} µs)",
                (mine < 0.5 * recipe) if both else None,
            )
        )
    return targets
