"""The Runs tab in a real browser on stored tiny-model runs: overlay two GRPO runs, open the rollout inspector
and read a group's advantages, preview the dataset (also from the Train tab's link), inspect the reward model's
held-out pairs, read an experiment's ablation table; and the empty states of a lab with no runs. Saves the
screenshots the README shows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import browser_support as bs
from tests.app_server import running_app

pytestmark = bs.BROWSER_MARKS


@pytest.fixture(scope="module")
def runs_home(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[tuple[Path, dict]]:
    from storage.db import dispose_engine
    from tests.browser_runs_data import make_runs

    home = tmp_path_factory.mktemp("runs_home")
    before = os.environ.get("LAB_HOME")
    os.environ["LAB_HOME"] = str(home)
    try:
        ids = make_runs(tiny_model_dir)
        dispose_engine()
        yield home, ids
    finally:
        dispose_engine()
        if before is None:
            os.environ.pop("LAB_HOME", None)
        else:
            os.environ["LAB_HOME"] = before


@pytest.fixture(scope="module")
def app_url(runs_home: tuple[Path, dict]) -> Iterator[str]:
    with running_app(runs_home[0]) as url:
        yield url


def _open_row(page, run_id: int) -> None:  # noqa: ANN001
    rows = bs.table(page, "runs-table")
    index = next(i for i, row in enumerate(rows) if row[0] == str(run_id))
    page.locator(f"#runs-table [data-testid='cell-{index}-1']").click()
    bs.wait_for_value(page, "runs-opened", f"Run {run_id} ·")


def test_overlay_two_runs(app_url: str, runs_home: tuple[Path, dict]) -> None:
    _, ids = runs_home
    with bs.chromium() as browser:
        page = bs.open_app(browser, app_url, tab="runs", ready="#runs-table")
        bs.wait_for_rows(page, "runs-table", ids["runs"])
        assert "Tick two or more runs" in bs.value(page, "runs-overlay-note")
        for run_id in (ids["grpo"], ids["grpo_b"]):
            page.locator("#runs-ticks label", has_text=f"{run_id} · grpo").first.click()
            page.wait_for_timeout(300)
        page.locator("#runs-overlay-plot .js-plotly-plot").wait_for(timeout=30_000)
        page.wait_for_function("() => document.querySelectorAll('#runs-overlay-plot .legendtext').length === 2")
        legend = page.eval_on_selector_all("#runs-overlay-plot .legendtext", "els => els.map((e) => e.textContent)")
        assert len(legend) == 2 and all("run" in text for text in legend), legend
        diff = bs.wait_for_rows(page, "runs-overlay-diff", 2)
        assert any(row[0] == "learning_rate" for row in diff), diff
        assert "\\u" not in str(diff)
        page.locator("#runs-overlay-x label", has_text="wall time").click()
        page.wait_for_timeout(800)
        axis = page.eval_on_selector_all("#runs-overlay-plot .xtitle", "els => els.map((e) => e.textContent)")
        assert any("wall time" in text for text in axis), axis
        bs.screenshot(page, "runs", height=1300)


def test_rollout_inspector_shows_a_group_with_advantages(app_url: str, runs_home: tuple[Path, dict]) -> None:
    _, ids = runs_home
    with bs.chromium() as browser:
        page = bs.open_app(browser, app_url, tab="runs", ready="#runs-table")
        bs.wait_for_rows(page, "runs-table", ids["runs"])
        _open_row(page, ids["grpo"])
        page.locator("button[role=tab]:has-text('Rollouts')").first.click()
        groups = bs.wait_for_rows(page, "runs-rollout-groups", 3)
        assert all(len(row[3].split()) == 4 for row in groups), groups  # four rewards per group
        side = bs.table(page, "runs-rollout-side")
        by_name = {row[0]: row[1:] for row in side}
        assert len(by_name["advantage"]) == 4 and all(v[0] in "+-" for v in by_name["advantage"]), by_name
        assert "response" in by_name and "reward" in by_name
        page.locator("#runs-rollout-groups [data-testid='cell-1-2']").click()
        bs.wait_for_value(page, "runs-rollout-caption", "Group 1")
        page.locator("#runs-rollout-histogram .js-plotly-plot").wait_for(timeout=30_000)
        page.locator("#runs-rollout-filter label", has_text="worst completions").click()
        bs.wait_for_value(page, "runs-rollout-caption", "worst completions")
        page.locator("#runs-rollout-filter label", has_text="all groups").click()
        bs.wait_for_value(page, "runs-rollout-caption", "Group 0")
        page.locator("#runs-rollout-side").scroll_into_view_if_needed()
        page.locator("#runs-opened").scroll_into_view_if_needed()
        bs.screenshot_here(page, "rollouts")


def test_dataset_preview_and_the_train_link(app_url: str, runs_home: tuple[Path, dict]) -> None:
    _, ids = runs_home
    with bs.chromium() as browser:
        page = bs.open_app(browser, app_url, tab="train", ready="#train-progress")
        button = page.locator("#train-preview-dataset")
        # The watched job (GRPO-only) uses the dataset run: the link is there once the first refresh lands, which on
        # 2 busy cores (CI beside another job) took over 30 s once.
        button.wait_for(timeout=60_000)
        button.click()
        bs.wait_for_value(page, "runs-opened", f"Run {ids['dataset']} · dataset")
        assert "tab=runs" in page.url
        summary = bs.wait_for_value(page, "runs-dataset-summary", "rows")
        assert "constraint types" in summary
        rows = bs.table(page, "runs-dataset-rows")
        assert rows and all(row[1] in ("1", "2", "math") for row in rows), rows
        assert bs.table(page, "runs-dataset-mix")
        page.locator("#runs-dataset-mix-plot .js-plotly-plot").wait_for(timeout=30_000)
        page.locator("#runs-opened").scroll_into_view_if_needed()
        bs.screenshot_here(page, "dataset")

        _open_row(page, ids["reward_model"])
        page.locator("button[role=tab]:has-text('Reward model')").first.click()
        assert "held-out pairs" in bs.wait_for_value(page, "runs-rm-summary", "held-out")
        assert bs.table(page, "runs-rm-types")[0][0] == "all"


def test_an_experiment_opens_on_its_ablation_table(app_url: str, runs_home: tuple[Path, dict]) -> None:
    _, ids = runs_home
    with bs.chromium() as browser:
        page = bs.open_app(browser, app_url, tab="runs", ready="#runs-table")
        _open_row(page, ids["experiment"])
        summary = bs.wait_for_value(page, "runs-experiment-summary", "variant(s) evaluated")
        assert summary.startswith("2 variant(s) evaluated on heldout-if, arith-probe")
        rows = bs.table(page, "runs-experiment-table")
        assert [row[0] for row in rows] == ["base", "full (reference)", "hard-only"]
        assert rows[2][3].startswith(("+", "-"))  # hard-only vs full, paired
        page.locator("#runs-experiment-tradeoff .js-plotly-plot").wait_for(timeout=30_000)
        page.locator("#runs-experiment-summary").scroll_into_view_if_needed()
        bs.screenshot_here(page, "experiment")


def test_empty_states_say_what_to_do(tmp_path: Path) -> None:
    with running_app(tmp_path / "empty_home") as url, bs.chromium() as browser:
        page = bs.open_app(browser, url, tab="runs", ready="#runs-empty")
        assert "No run open" in bs.value(page, "runs-empty")
        assert not page.locator("#runs-overlay-plot .js-plotly-plot").count()
        page.locator("#runs-go-train").click()
        page.locator("#train-launch").wait_for(timeout=30_000)
        assert "tab=train" in page.url
        bs.wait_for_value(page, "train-progress", "No jobs yet")
        assert not page.locator("#train-chart-reward .js-plotly-plot").count()  # no empty chart frames
        page.locator("button[role=tab]:has-text('Compare')").first.click()
        assert "No comparison yet" in bs.wait_for_value(page, "compare-note", "No comparison yet")
        assert not page.locator("#compare-table").is_visible()
        page.wait_for_function("() => window.location.search.includes('tab=compare')", timeout=10_000)
        page.locator("#compare-quick").click()
        assert bs.wait_for_value(page, "compare-limit", "10") == "10"
