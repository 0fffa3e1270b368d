"""Compose & score in a real browser: three typed constraints, a pasted response, the right verdict per
constraint; and pasted HTML/script shown as text that never runs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.app_server import running_app
from tests.browser_support import (
    BROWSER_MARKS,
    chromium,
    field,
    fill,
    open_app,
    pick,
    screenshot,
    table,
    value,
    wait_for_rows,
    wait_for_value,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_app(tmp_path_factory.mktemp("compose_home")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser: Browser, app_url: str) -> Iterator[Page]:
    page = open_app(browser, app_url, ready="#compose-type input")
    yield page
    page.context.close()


def _add(page: Page, type_id: str, typed: str | None = None) -> None:
    pick(page, "compose-type", typed or type_id, f"({type_id})")
    page.wait_for_function(
        "(id) => document.querySelector('#compose-type-note textarea').value.length > 0", arg=type_id
    )


def _click_add(page: Page, expect: str, rows: int) -> None:
    page.locator("#compose-add").click()
    wait_for_value(page, "compose-message", expect)
    wait_for_rows(page, "compose-list", rows)


def test_three_constraints_and_a_pasted_response_give_the_right_verdicts(page: Page) -> None:
    fill(page, "compose-task", "Write a short note about the sea.")
    _add(page, "punctuation:no_comma", "no_comma")
    _click_add(page, "Added #1 punctuation:no_comma", 1)
    _add(page, "keywords:existence", "keywords:exist")
    fill(page, "compose-p0-text", "ocean, blue")
    _click_add(page, "Added #2 keywords:existence", 2)
    _add(page, "length_constraints:number_words", "number_words")
    fill(page, "compose-p0-int", "50")
    pick(page, "compose-p1-choice", "less", "less than")
    _click_add(page, "Added #3 length_constraints:number_words", 3)

    listed = table(page, "compose-list")
    assert [row[2] for row in listed] == [
        "punctuation:no_comma",
        "keywords:existence",
        "length_constraints:number_words",
    ]
    prompt = value(page, "compose-prompt")
    assert prompt.startswith("Write a short note about the sea.") and "ocean, blue" in prompt and "50 words" in prompt

    # No comma (pass), "ocean" but not "blue" (fail), 11 words < 50 (pass).
    fill(page, "compose-response", "The ocean is deep and calm today. Gulls drift over the grey water.")
    page.locator("#compose-score").click()
    wait_for_value(page, "compose-aggregate", "reward 0.667")
    verdicts = {row[1]: row[3] for row in table(page, "compose-breakdown")}
    assert verdicts == {
        "punctuation:no_comma": "pass (1.00)",
        "keywords:existence": "fail (0.00)",
        "length_constraints:number_words": "pass (1.00)",
    }
    page.locator("#compose-chart .js-plotly-plot").wait_for(timeout=30_000)

    # The curriculum shows L1..L3, each level extending the previous one.
    page.get_by_text("Curriculum L1..Ln").click()
    levels = wait_for_rows(page, "compose-curriculum", 3)
    assert [row[0] for row in levels] == ["L1", "L2", "L3"]
    screenshot(page, "compose", height=1250)

    # Fix the response: every constraint passes.
    fill(page, "compose-response", "The blue ocean is deep and calm today.")
    page.locator("#compose-score").click()
    wait_for_value(page, "compose-aggregate", "reward 1.000")


XSS_IMG = '<img src=x onerror="window.__xss = (window.__xss || 0) + 1">'
XSS_SCRIPT = "<script>window.__xss = (window.__xss || 0) + 1</script>"


def _no_injection(page: Page) -> None:
    assert page.evaluate("window.__xss") is None, "injected code ran"
    assert page.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0, "an <img> was injected"
    assert not page.evaluate("Array.from(document.scripts).some((s) => s.text.includes('__xss'))")


def test_pasted_html_and_script_show_as_text_and_run_nothing(page: Page) -> None:
    fill(page, "compose-task", f"Describe this tag: {XSS_IMG}")
    fill(page, "compose-free-text", f"Mention {XSS_IMG} literally")
    page.locator("#compose-add-free").click()
    wait_for_value(page, "compose-message", "Added #1 soft:free_text")
    _add(page, "startend:end_checker", "end_checker")
    fill(page, "compose-p0-text", XSS_SCRIPT)
    _click_add(page, "Added #2 startend:end_checker", 2)
    response = f"<think>{XSS_SCRIPT}</think>Here it is: {XSS_IMG} {XSS_SCRIPT}"
    fill(page, "compose-response", response)
    page.locator("#compose-score").click()
    wait_for_value(page, "compose-aggregate", "reward")

    listed = table(page, "compose-list")
    assert XSS_IMG in listed[0][3], "the free-text constraint must show as typed"
    assert XSS_IMG in value(page, "compose-prompt")
    verdicts = {row[1]: row[3] for row in table(page, "compose-breakdown")}
    assert verdicts == {"soft:free_text": "not scored", "startend:end_checker": "pass (1.00)"}
    page.get_by_text("Thinking (not checked").click()
    page.get_by_text("Answer that was checked").click()
    assert value(page, "compose-thinking") == XSS_SCRIPT
    assert value(page, "compose-answer") == f"Here it is: {XSS_IMG} {XSS_SCRIPT}"
    assert value(page, "compose-response") == response

    page.get_by_text("Export the row (dataset format)").click()
    page.locator("#compose-export").click()
    page.locator("#compose-row-json .cm-content").get_by_text("onerror", exact=False).first.wait_for()

    # An error message that echoes user input (an unknown model name) is shown as text too.
    page.get_by_text("Generate with a model").click()
    box = field(page, "compose-model")
    box.fill(XSS_IMG)
    box.press("Enter")
    page.locator("#compose-generate").click()
    page.get_by_text("unknown model", exact=False).first.wait_for(timeout=30_000)
    assert page.get_by_text('<img src=x onerror="window.__xss', exact=False).count() >= 1
    _no_injection(page)
