"""Stored runs for the Runs-tab browser tests: a tiny-model experiment (two variants, evaluated), a tiny-model
pipeline (dataset → reward model → GRPO) and a second GRPO run on the same dataset with another learning rate, all
run in the foreground (no worker). The experiment runs first, so the newest job is still the GRPO-only one."""

from __future__ import annotations

from pathlib import Path

GRPO = {
    "steps": 2, "prompts_per_step": 3, "group_size": 4, "micro_batch_size": 4, "max_completion_length": 8,
    "save_every": 2, "sample_every": 1, "samples_per_log": 12, "learning_rate": 1e-3,
}  # fmt: skip


def make_runs(model: Path) -> dict[str, int]:
    """Run the experiment and both pipelines into $LAB_HOME; kind -> run id (plus "grpo_b", "experiment"),
    and "runs": how many runs there are."""
    from training.jobs import run_in_foreground
    from training.pipeline import submit_pipeline

    tiny = str(model)
    experiment = run_in_foreground(
        "experiment",
        {
            "preset": "cpu-smoke",
            "variants": ["full", "hard-only"],
            "overrides": [
                "dataset.num_tasks=3",
                "dataset.max_constraints=2",
                f"reward_model.policy={tiny}",
                f"reward_model.init_from={tiny}",
                "reward_model.max_new_tokens=8",
                "reward_model.batch_size=4",
                f"grpo.model={tiny}",
                "grpo.steps=1",
                "grpo.prompts_per_step=2",
                "grpo.group_size=2",
                "grpo.max_completion_length=6",
                "grpo.save_every=1",
            ],
            "suites": ["heldout-if", "arith-probe"],
            "eval_limit": 3,
            "max_new_tokens": 6,
        },
        name="ablation",
    )
    assert experiment.status == "succeeded", experiment.error_message
    overrides = {
        "dataset": {"num_tasks": 4, "max_constraints": 2, "math_ratio": 0.2},
        "reward_model": {"policy": tiny, "init_from": tiny, "max_new_tokens": 12, "batch_size": 4},
        "grpo": {"model": tiny, **GRPO},
    }
    data, rm, grpo = submit_pipeline("cpu-smoke", overrides=overrides, foreground=True, name="first")
    second = {"grpo": {"model": tiny, **GRPO, "learning_rate": 5e-4, "dataset": f"run:{data.run_id}"}}
    (grpo_b,) = submit_pipeline("cpu-smoke", ["grpo"], second, foreground=True, name="second")
    from storage.runs import list_runs

    return {
        "dataset": data.run_id, "reward_model": rm.run_id, "grpo": grpo.run_id, "grpo_b": grpo_b.run_id,
        "experiment": experiment.run_id, "runs": len(list_runs()),
    }  # fmt: skip
