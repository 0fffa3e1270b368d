"""The Compare screen's logic without a model (the slow browser test evaluates real checkpoints): the metrics
table turned to one row per metric, what is still missing, evaluate jobs queued or refused, side-by-side rows."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from storage import jobs as job_store
from ui import arena_view, compare


def test_the_table_turns_to_one_row_per_metric() -> None:
    headers = ["model", "n", "prompt_strict", "Δ prompt_strict", "mean_tokens", "Δ mean_tokens"]
    cells = [
        ["base (baseline)", "300", "40.0 [35.0, 45.0]", "", "120", ""],
        ["step 50", "300", "52.0 [47.0, 57.0]", "+12.0 [+8.0, +16.0]", "96", "-24"],
    ]
    new_headers, rows = compare.metrics_by_row(headers, cells)
    assert new_headers == ["metric", "base (baseline)", "step 50"]
    assert rows == [
        ["n", "300", "300"],
        ["prompt_strict", "40.0 [35.0, 45.0]", "52.0 [47.0, 57.0]   Δ +12.0 [+8.0, +16.0]"],
        ["mean_tokens", "120", "96   Δ -24"],
    ]


def test_results_say_what_is_not_evaluated_yet(db: Path) -> None:
    table, *figures, note = compare.on_results(["bundled"], None, compare.IF_SUITE, "loose")
    assert table["value"] == {"headers": ["metric"], "data": []} and table["visible"] is False
    assert all(f["value"] is None and f["visible"] is False for f in figures)  # no empty frames
    assert "not evaluated on heldout-if yet" in note and "bundled" in note
    with pytest.raises(gr.Error, match="checkpoint"):
        compare.on_results([], None, compare.IF_SUITE, "loose")


def test_evaluate_queues_one_job_or_refuses(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message, job_id, timer = compare.on_evaluate(["bundled"], ["math-probe"], 5, 32, "")
    job = job_store.get_job(job_id)
    assert job.kind == "evaluate" and job.status == "queued" and message.startswith(f"Queued evaluate job {job_id}")
    assert job.config["checkpoints"] == ["bundled"] and job.config["limit"] == 5
    assert job.config["max_new_tokens"] == 32 and job.config["reward_model"] is None
    assert timer.active
    text, _, done, bar, cancel = compare.on_eval_tick(job_id)
    assert "queued" in text and isinstance(done, type(gr.skip()))
    assert bar["visible"] and cancel["interactive"]  # a progress bar and Cancel while it waits or runs
    assert "Estimate: 1 model(s) × 5 prompts × up to 32 tokens" in compare.on_estimate(
        ["bundled"], ["math-probe"], 5, 32
    )
    with pytest.raises(gr.Error, match="suites"):
        compare.on_evaluate(["bundled"], [], None, 32, "")
    with pytest.raises(gr.Error, match="no stored checkpoint"):
        compare.on_evaluate(["9999"], ["math-probe"], None, 32, "")
    monkeypatch.setenv("LAB_READ_ONLY", "1")
    with pytest.raises(gr.Error, match="read-only"):
        compare.on_evaluate(["bundled"], ["math-probe"], None, 32, "")
    assert len(job_store.list_jobs()) == 1


def test_side_by_side_rows_come_from_compose_or_a_typed_prompt() -> None:
    items = [{"type_id": "punctuation:no_comma", "params": {}}]
    row = arena_view._row(True, items, "Describe the sea.", "ignored")
    assert row["instruction_id_list"] == ["punctuation:no_comma"] and row["prompt"].startswith("Describe the sea.")
    plain = arena_view._row(False, [], "", " Hello ")
    assert plain == {"prompt": "Hello", "instruction_id_list": [], "kwargs": [], "constraints": []}
    with pytest.raises(Exception, match="Compose"):
        arena_view._row(True, [], "task", "")
    with pytest.raises(gr.Error, match="at most 4"):
        next(arena_view.on_generate(["a", "b", "c", "d", "e"], False, [], "", "hi", 0, 0.7, 16, False, ""))
