"""A tiny grpo job config on the tiny model and a 4-task curriculum dataset (rollout-engine tests share it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.recording_context import RecordingContext


def tiny_grpo_values(model_dir: Path, work: Path, **overrides: Any) -> dict[str, Any]:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset
    from training.registry import parse_config

    dataset = run_dataset(
        parse_config(DatasetConfig, {"num_tasks": 4, "max_constraints": 2, "math_ratio": 0.0}),
        RecordingContext(work / "ds"),
    )["path"]
    values = {
        "dataset": str(dataset), "model": str(model_dir), "steps": 2, "prompts_per_step": 2, "group_size": 2,
        "max_completion_length": 8, "save_every": 2, "sample_every": 1, "samples_per_log": 2,
    }  # fmt: skip
    return {**values, **overrides}
