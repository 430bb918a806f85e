"""The HTML page in a real headless Chromium: every span drawn, a click shows its details.

Needs Debian's `chromium` at /usr/bin/chromium and the `playwright` Python package
(`playwright install` is not needed: the system browser is used).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
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
