"""The Playground in a real browser: Playwright drives Debian's Chromium against a launched app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.app_server import running_app
from tests.browser_support import BROWSER_MARKS, chromium, open_app, screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_app(tmp_path_factory.mktemp("browser_home")) as url:
        yield url


@pytest.fixture
def page(app_url: str) -> Iterator[Page]:
    with chromium() as browser:
        yield open_app(browser, app_url, tab="playground", ready="#playground-prompt textarea")


def _choose_model(page: Page, spec: str) -> None:
    box = page.locator("#playground-model input")
    box.click()
    box.fill(spec)
    box.press("Enter")
    page.locator("#playground-prompt textarea").click()  # blur commits the custom value


def _generate(page: Page, prompt: str) -> None:
    page.locator("#playground-prompt textarea").fill(prompt)
    page.locator("#playground-generate").click()


def test_type_a_prompt_and_read_the_streamed_answer(page: Page, tiny_model_dir: Path) -> None:
    default = page.locator("#playground-model input").input_value()
    assert default.startswith("bundled:"), "the bundled model must be preselected"
    _choose_model(page, str(tiny_model_dir))
    _generate(page, "Write a poem about the sea.")
    status = page.locator("#playground-status textarea")
    page.wait_for_function(
        "() => document.querySelector('#playground-status textarea').value.startsWith('Done')", timeout=60_000
    )
    answer = page.locator("#playground-response textarea").input_value()
    assert answer.strip(), "the response box stayed empty"
    assert "tokens" in status.input_value()
    screenshot(page, "playground", height=800)


def test_bad_model_shows_a_message_and_the_page_keeps_working(page: Page, tiny_model_dir: Path) -> None:
    _choose_model(page, "/no/such/checkpoint")
    _generate(page, "Hello")
    message = page.get_by_text("does not exist", exact=False).first
    message.wait_for(timeout=30_000)
    assert "Traceback" not in page.content()
    _choose_model(page, str(tiny_model_dir))
    _generate(page, "Hello again")
    page.wait_for_function(
        "() => document.querySelector('#playground-status textarea').value.startsWith('Done')", timeout=60_000
    )


def test_stop_ends_generation_and_says_so(page: Page, tiny_model_dir: Path) -> None:
    _choose_model(page, str(tiny_model_dir))
    _generate(page, "Write a long story about the sea.")
    page.locator("#playground-stop").click()
    page.wait_for_function(
        "() => document.querySelector('#playground-status textarea').value === 'Stopped.'", timeout=10_000
    )
    page.wait_for_timeout(1_500)  # a cancelled stream must not overwrite the status afterwards
    assert page.locator("#playground-status textarea").input_value() == "Stopped."
