"""TRL and verl adapters: calling conventions, per-type metrics, and one real GRPOTrainer step on a tiny model."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from lab.compose import curriculum, make_constraint, sample_constraints
from lab.constraints import all_types
from lab.math_problems import generate_math_problems
from lab.trl_reward import batch_metrics, completion_text, make_trl_reward
from lab.verl_reward import compute_score

TASK = "Describe a walk through an ancient forest."
QUIET = "the quiet path winds slowly through the old forest and the tall trees lean over it"


class LengthScorer:
    def score(self, pairs):
        return [min(1.0, len(response) / 100) for response, _ in pairs]


def _rows():
    cs = [
        make_constraint("punctuation:no_comma"),
        make_constraint("soft:tone", {"tone": "calm"}),
        make_constraint("change_case:english_lowercase"),
    ]
    return curriculum(TASK, cs, "g", "seed")


def _columns(rows):
    """Dataset columns as TRL passes them: every column for every row (None where a row lacks it)."""
    keys = {k for r in rows for k in r} - {"prompt"}
    return {k: [r.get(k) for r in rows] for k in keys}


def test_trl_reward_follows_the_calling_convention() -> None:
    rows = _rows() + [generate_math_problems(1, seed=0)[0].as_row(), {**_rows()[0], "instruction_id_list": []}]
    rows[3]["answer"] = "7"
    completions = ["no commas here", "Calm, Quiet.", QUIET, "<think>3+4</think>\\boxed{7}", "anything"]
    metrics: dict[str, float] = {}
    extra: dict[str, list] = {}
    f = make_trl_reward(name="if_reward")
    assert f.__name__ == "if_reward"
    out = f(
        prompts=[r["prompt"] for r in rows],
        completions=completions,
        completion_ids=[[1]] * 5,
        trainer_state=object(),
        log_metric=lambda name, value: metrics.__setitem__(name, value),
        log_extra=lambda column, values: extra.__setitem__(column, values),
        **_columns(rows),
    )
    assert out == [1.0, 0.0, 1.0, 1.0, None]  # soft unscored (no RM); the last row has nothing to score
    assert metrics["constraints/punctuation:no_comma"] == pytest.approx(2 / 3)
    assert metrics["constraints/change_case:english_lowercase"] == 1.0  # only level 3 has it
    assert metrics["math/accuracy"] == 1.0 and metrics["format/unclosed_think"] == 0.0
    assert "constraints/soft:tone" not in metrics  # never scored, so no fake rate
    assert len(extra["constraint_breakdown"]) == 5 and "✗" in extra["constraint_breakdown"][1]


def test_trl_reward_with_scorer_conversational_completions_and_think() -> None:
    rows = _rows()
    f = make_trl_reward(soft_scorer=LengthScorer())
    conv = [[{"role": "assistant", "content": QUIET[:50]}]] * 3
    out = f(prompts=[[{"role": "user", "content": r["prompt"]}] for r in rows], completions=conv, **_columns(rows))
    assert out[1] == pytest.approx((1 + 0.5) / 2) and out[2] == pytest.approx((1 + 0.5 + 1) / 3)
    # A plain-text prompt ending in <think> means the completion starts inside the think block.
    opened = f(prompts=["q <think>\n"] * 3, completions=["still thinking"] * 3, **_columns(rows))
    assert opened == [0.0, 0.0, 0.0]
    assert f(prompts=["q"] * 3, completions=["still thinking"] * 3, **_columns(rows))[0] == 1.0


def test_completion_text_handles_messages_and_parsed_reasoning() -> None:
    assert completion_text("plain") == "plain"
    msg = [{"role": "assistant", "content": [{"type": "text", "text": "hi"}], "reasoning_content": "plan"}]
    assert completion_text(msg) == "<think>plan</think>hi"


def test_trl_reward_accepts_json_and_arrow_null_kwargs() -> None:
    rows = _rows()
    cols = _columns(rows)
    cols["kwargs"] = [json.dumps(k) for k in cols["kwargs"]]
    cols["instruction_id_list"] = [json.dumps(i) for i in cols["instruction_id_list"]]
    out = make_trl_reward()(prompts=[""] * 3, completions=[QUIET] * 3, **cols)
    assert out == [1.0, 1.0, 1.0]
    cols = _columns(rows)
    cols["kwargs"] = [[{**k, "num_words": None, "tone": k.get("tone")} for k in ks] for ks in cols["kwargs"]]
    assert make_trl_reward()(prompts=[""] * 3, completions=[QUIET] * 3, **cols) == [1.0, 1.0, 1.0]


def test_batch_metrics_ignore_format_failures_for_pass_rates() -> None:
    from lab.reward import breakdown

    rows = _rows()
    b = [breakdown(rows[0], "<think>x"), breakdown(rows[0], "fine")]
    m = batch_metrics(b)
    assert m["format/unclosed_think"] == 0.5 and m["constraints/punctuation:no_comma"] == 1.0


def test_verl_compute_score_shapes_and_values() -> None:
    row = _rows()[-1]
    truth = {k: row[k] for k in ("instruction_id_list", "kwargs", "constraints")}
    a = compute_score("seed", QUIET, truth)
    b = compute_score("seed", "A Loud, Path", json.dumps(truth), extra_info={"index": 3})
    m = compute_score("math", "<think>x</think>\\boxed{12}", "12")
    assert a["score"] == 1.0 and b["score"] == 0.0 and m["score"] == 1.0 and m["math_correct"] == 1.0
    assert set(a) == set(b) == set(m)  # verl stacks the keys across the batch
    assert {f"pass/{t.id}" for t in all_types()} <= set(a)
    assert a["pass/punctuation:no_comma"] == 1.0 and math.isnan(a["pass/keywords:existence"])
    assert math.isnan(a["pass/soft:tone"]) and a["n_scored"] == 2.0 and a["n_constraints"] == 3.0
    s = compute_score("seed", QUIET + " " + QUIET, truth, soft_scorer=LengthScorer(), scale=5.0)
    assert s["score"] == pytest.approx(5 * (1 + 1 + 1) / 3) and s["soft_rm_mean"] == 1.0
    u = compute_score("seed", "<think>unfinished", truth)
    assert u["score"] == 0.0 and u["format_ok"] == 0.0
    g = compute_score("iflab", "\\boxed{12}", {"answer": "12", "source": "math"})
    assert g["score"] == 1.0


def test_one_real_grpo_step_with_our_reward(tiny_model_dir: Path, tmp_path: Path) -> None:
    """TRL 1.16 GRPOTrainer calls our function with dataset columns and logs our metrics (tiny model, ~10 s)."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    rng = random.Random(0)
    hard = [t.id for t in all_types("hard") if t.id != "detectable_format:constrained_response"]
    rows = []
    for i in range(2):
        rows += curriculum(TASK, sample_constraints(rng, 2, 0.0, task=TASK, include=hard), f"g{i}", "seed")
    data = Dataset.from_list([{**r, "prompt": [{"role": "user", "content": r["prompt"]}]} for r in rows])
    config = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=2, max_completion_length=8,
        max_steps=1, use_cpu=True, bf16=False, logging_steps=1, report_to=[], save_strategy="no", seed=0,
    )  # fmt: skip
    trainer = GRPOTrainer(model=str(tiny_model_dir), reward_funcs=[make_trl_reward()], args=config, train_dataset=data)
    trainer.train()
    logs = trainer.state.log_history[0]
    assert logs["rewards/constraint_reward/mean"] is not None and 0.0 <= logs["rewards/constraint_reward/mean"] <= 1.0
    assert "constraints/hard_pass_rate" in logs and "format/unclosed_think" in logs
    assert any(k.startswith("constraints/") and ":" in k for k in logs)
