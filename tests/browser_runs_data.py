"""Stored runs for the Runs-tab browser tests: a tiny-model pipeline (dataset → reward model → GRPO) and a
second GRPO run on the same dataset with another learning rate, both run in the foreground (no worker)."""

from __future__ import annotations

from pathlib import Path

GRPO = {
    "steps": 2, "prompts_per_step": 3, "group_size": 4, "micro_batch_size": 4, "max_completion_length": 8,
    "save_every": 2, "sample_every": 1, "samples_per_log": 12, "learning_rate": 1e-3,
}  # fmt: skip


def make_runs(model: Path) -> dict[str, int]:
    """Run both pipelines into $LAB_HOME; kind -> run id (plus "grpo_b" for the second GRPO run)."""
    from training.pipeline import submit_pipeline

    tiny = str(model)
    overrides = {
        "dataset": {"num_tasks": 4, "max_constraints": 2, "math_ratio": 0.2},
        "reward_model": {"policy": tiny, "init_from": tiny, "max_new_tokens": 12, "batch_size": 4},
        "grpo": {"model": tiny, **GRPO},
    }
    data, rm, grpo = submit_pipeline("cpu-smoke", overrides=overrides, foreground=True, name="first")
    second = {"grpo": {"model": tiny, **GRPO, "learning_rate": 5e-4, "dataset": f"run:{data.run_id}"}}
    (grpo_b,) = submit_pipeline("cpu-smoke", ["grpo"], second, foreground=True, name="second")
    return {"dataset": data.run_id, "reward_model": rm.run_id, "grpo": grpo.run_id, "grpo_b": grpo_b.run_id}
