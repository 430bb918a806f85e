"""The HTML page in a real headless Chromium: every span drawn, a click shows its details.

Needs Debian's `chromium` at /usr/bin/chromium and the `playwright` Python package
(`playwright install` is not needed: the system browser is used).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from served import AMOUNTS, Served, serve, write_chain_logs
from viewer_logs import TRACE, Chain

from traced_http.viewer import build_tree
from traced_http.viewer.render_html import render_html
from traced_http.viewer.trace import make_trace

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser() -> Any:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def test_page_draws_every_span_and_shows_details_on_click(
    browser: Any, chain: Chain, tmp_path: Path
) -> None:
    events = [e for e in chain.events if e["traceid"] == TRACE]
    call = next(e for e in events if e["event_des"] == "call")
    call["msg_dict"]["url"] = "http://evil.example/<img src=x onerror=window.pwned=1>"
    trace = make_trace(TRACE, build_tree(events))
    path = tmp_path / "trace.html"
    path.write_text(render_html(trace), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: problems.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())

    rows = page.locator("tr.span")
    assert rows.count() == trace.span_count == 7
    for index in range(rows.count()):
        box = rows.nth(index).locator(".bar").bounding_box()
        assert box is not None and box["width"] >= 1 and box["height"] > 0
    widths = [rows.nth(i).locator(".bar").bounding_box()["width"] for i in range(2)]
    assert widths[0] > widths[1]  # the root spans the axis, its first call less of it

    payments = page.locator("tr.span", has_text="payments.internal")
    payments.click()
    details = page.locator("#details")
    assert details.is_visible()
    assert "ConnectionError: connection refused" in details.inner_text()
    assert payments.get_attribute("data-span-id") in details.inner_text()

    page.locator("tr.span", has_text="evil.example").click()
    assert "onerror=window.pwned=1" in details.inner_text()  # shown as text...
    assert page.evaluate("window.pwned") is None  # ...never run
    assert page.locator("img").count() == 0

    page.screenshot(path=str(tmp_path / "trace.png"), full_page=True)
    assert (tmp_path / "trace.png").stat().st_size > 0
    assert problems == []


def shots(tmp_path: Path) -> Path:
    """Where screenshots go: $TRACED_HTTP_SCREENSHOTS when set (kept by CI), else tmp_path."""
    folder = Path(os.environ.get("TRACED_HTTP_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page: Any) -> list[str]:
    """Console errors, page errors and any request that leaves the page's own origin."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def visible_spans(page: Any) -> list[str]:
    rows = page.locator("#waterfall tr.span:visible td.what")
    return [text.split("\n")[0].strip() for text in rows.all_inner_texts()]


def test_waterfall_root_cause_collapse_search_and_keys(browser: Any, tmp_path: Path) -> None:
    c = Chain()
    hop1, orders = c.failed_checkout(
        path="/o", status=502, orders_error={"type": "HTTPError", "message": "500 Server Error"}
    )
    c.event("orders", "basket-priced", trace="t", span=orders, parent=hop1, at=0.025)
    path = tmp_path / "trace.html"
    path.write_text(render_html(make_trace("t", build_tree(c.events))), encoding="utf-8")

    page = browser.new_page(viewport={"width": 1400, "height": 700})
    problems = watch(page)
    page.on("request", lambda r: problems.append(r.url) if not r.url.startswith("file:") else None)
    page.goto(path.as_uri())

    # The root cause is in the header; a click reveals its span and says why.
    cause = page.locator("#cause")
    assert "billing: RuntimeError: card declined" in cause.inner_text()
    assert "4 spans failed because of it" in cause.inner_text()
    assert page.locator(".legend > span").all_inner_texts() == ["gateway", "orders", "billing"]
    assert len(page.locator(".tick").all()) >= 3
    assert page.locator("tr.span .badge.cause").count() == 1
    assert page.locator("tr.span .badge.because").count() == 4
    assert page.locator(".mark").count() == 1  # the user event, on its span only

    # Collapse the first call: its subtree disappears, and comes back.
    assert len(visible_spans(page)) == 5
    page.locator("#waterfall tr.span").nth(1).locator(".tog").click()
    assert len(visible_spans(page)) == 2  # the root, and the folded call
    page.locator("#waterfall tr.span").nth(1).locator(".tog").click()
    assert len(visible_spans(page)) == 5

    page.locator("#goto-cause").click()
    selected = page.locator("tr.selected")
    assert "POST /charge" in selected.inner_text() and "root cause" in selected.inner_text()
    assert "the failure began here" in page.locator("#details").inner_text()

    # Keyboard: up moves to the parent row, left folds it, / searches, Esc clears.
    page.keyboard.press("ArrowUp")
    assert "call POST http://billing/charge" in page.evaluate("document.activeElement.innerText")
    page.keyboard.press("ArrowLeft")
    assert len(visible_spans(page)) == 4
    page.keyboard.press("ArrowRight")
    page.keyboard.press("/")
    page.keyboard.type("card declined")
    assert len(visible_spans(page)) == 5  # the match with its ancestors
    page.keyboard.press("Escape")
    page.select_option("#service", label="billing")
    assert page.locator("#shown").inner_text() == "5 of 5 spans shown"
    page.select_option("#service", "")
    page.select_option("#status", "ok")
    assert page.locator("#shown").inner_text() == "0 of 5 spans shown"
    page.select_option("#status", "")
    page.screenshot(path=str(shots(tmp_path) / "waterfall.png"), full_page=True)
    assert problems == []


@pytest.fixture(scope="module")
def chain_served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Served, dict[int, str]]]:
    folder = tmp_path_factory.mktemp("logs")
    ids = write_chain_logs(folder)
    with serve(str(folder)) as running:
        yield running, ids


def test_serve_list_filter_open_trace_and_stats(
    browser: Any, chain_served: tuple[Served, dict[int, str]], tmp_path: Path
) -> None:
    served, ids = chain_served
    page = browser.new_page(viewport={"width": 1400, "height": 800})
    problems = watch(page)
    page.on(
        "request", lambda r: problems.append(r.url) if not r.url.startswith(served.url) else None
    )
    page.goto(served.url)
    traces = page.locator("#traces tbody tr")
    assert traces.count() == len(AMOUNTS)
    page.screenshot(path=str(shots(tmp_path) / "serve-list.png"), full_page=True)

    page.select_option("select[name=status]", "failed")
    page.locator("#filters button[type=submit]").click()
    page.wait_for_url("**/?*status=failed*")
    assert traces.count() == 1
    assert page.locator("#matched").inner_text() == "1 trace match"

    page.locator("#traces a", has_text=ids[500]).click()
    page.wait_for_url(f"**/trace?id={ids[500]}")
    assert "billing: RuntimeError: card declined" in page.locator("#cause").inner_text()
    rows = page.locator("#waterfall tr.span")
    total = rows.count()
    assert total == 5
    rows.nth(0).locator(".tog").click()
    assert page.locator("#waterfall tr.span:visible").count() == 1
    rows.nth(0).locator(".tog").click()
    assert page.locator("#waterfall tr.span:visible").count() == total
    page.locator("#goto-cause").click()
    page.screenshot(path=str(shots(tmp_path) / "serve-trace.png"), full_page=True)

    page.locator("header a", has_text="all traces").click()
    page.wait_for_url(served.url)
    page.locator("header a", has_text="route stats").click()
    charge = page.locator("#stats tr", has_text="POST /charge")
    assert charge.locator("svg rect").count() >= 1
    assert "25.0%" in charge.inner_text()
    page.screenshot(path=str(shots(tmp_path) / "serve-stats.png"), full_page=True)
    assert problems == []
