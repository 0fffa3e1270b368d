"""Helpers for the Playwright tests: launch Debian's Chromium, open the app, drive Gradio widgets, read tables.

Never `playwright install`: the tests use /usr/bin/chromium (apt-get install -y chromium) and skip without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}

BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`"
    ),
]

# Reads a Gradio 6 Dataframe: its cells are divs with data-testid "cell-<row>-<col>".
_TABLE_JS = """(id) => {
  const rows = {};
  document.querySelectorAll(`#${id} [data-testid^="cell-"]`).forEach((cell) => {
    const [, r, c] = cell.dataset.testid.split('-');
    (rows[r] = rows[r] || [])[Number(c)] = cell.innerText.trim();
  });
  return Object.keys(rows).sort((a, b) => a - b).map((k) => rows[k]);
}"""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_app(browser: Browser, url: str, tab: str | None = None, ready: str = "#lab-tabs") -> Page:
    """A new page (its own context, like another browser) on the app; `tab` opens that tab via ?tab=."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    goto(page, url, tab, ready)
    return page


def goto(page: Page, url: str, tab: str | None = None, ready: str = "#lab-tabs") -> None:
    # Not "networkidle": the page keeps a heartbeat stream open for its session state.
    page.goto(url + (f"?tab={tab}" if tab else ""), wait_until="load")
    page.locator(ready).first.wait_for(timeout=60_000)
    page.wait_for_timeout(800)  # load events fill menus and forms


def field(page: Page, elem_id: str):  # noqa: ANN201 (a Playwright Locator)
    """The input or textarea inside a Gradio component."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def value(page: Page, elem_id: str) -> str:
    return field(page, elem_id).input_value()


def fill(page: Page, elem_id: str, text: str) -> None:
    box = field(page, elem_id)
    box.fill(text)
    box.blur()


def pick(page: Page, elem_id: str, typed: str, option: str | None = None) -> None:
    """Choose a dropdown option: type to filter, then click the option containing `option` (default: typed)."""
    box = page.locator(f"#{elem_id} input").first
    box.click()
    box.fill("")
    box.press_sequentially(typed, delay=10)
    page.locator("ul[role=listbox] li", has_text=option or typed).first.click()


def table(page: Page, elem_id: str) -> list[list[str]]:
    return page.evaluate(_TABLE_JS, elem_id)


def wait_for_rows(page: Page, elem_id: str, count: int, timeout_ms: int = 30_000) -> list[list[str]]:
    """Wait until the Dataframe shows exactly `count` rows; return them."""
    page.wait_for_function(f"(id) => ({_TABLE_JS})(id).length === {int(count)}", arg=elem_id, timeout=timeout_ms)
    return table(page, elem_id)


def wait_for_value(page: Page, elem_id: str, contains: str, timeout_ms: int = 30_000) -> str:
    """Wait until the component's text box contains `contains`; return its value."""
    page.wait_for_function(
        """([id, text]) => {
            const box = document.querySelector(`#${id} textarea, #${id} input`);
            return box && box.value.includes(text);
        }""",
        arg=[elem_id, contains],
        timeout=timeout_ms,
    )
    return value(page, elem_id)


def screenshot(page: Page, name: str, height: int = VIEWPORT["height"]) -> Path:
    """Save the top `height` pixels of the page as docs/screenshots/<name>.png (the README shows these)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
    return path


def screenshot_here(page: Page, name: str, height: int = VIEWPORT["height"]) -> Path:
    """Save the viewport as it is scrolled now as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})
    return path
