"""grpo with num_processes=2 on CPU: `accelerate launch` starts two ranks in a gloo group on the tiny model; both
train, only rank 0 reports metrics and checkpoints, a cancel stops both at the same step, and the resumed run
continues the one curve. Slow (two launches, each importing torch and TRL twice): `-m slow`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.recording_context import RecordingContext
from training.registry import parse_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 6, "max_constraints": 2, "math_ratio": 0.2, "soft_ratio": 0.4})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def _events(relay: Path) -> list[dict]:
    return [json.loads(line) for line in (relay / "events.jsonl").read_text().splitlines()]


def _ranks(relay: Path) -> list[dict]:
    return [json.loads((relay / f"rank{r}.json").read_text()) for r in (0, 1)]


def test_two_cpu_ranks_train_one_curve_cancel_and_resume(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from training.grpo_job import GRPOJobConfig
    from training.grpo_launch import run_distributed

    steps = 6
    config = parse_config(
        GRPOJobConfig,
        {
            "dataset": str(dataset_file), "model": str(tiny_model_dir), "steps": steps, "prompts_per_step": 2,
            "group_size": 2, "max_completion_length": 16, "save_every": 2, "sample_every": 1, "samples_per_log": 2,
            "learning_rate": 1e-3, "num_processes": 2, "lora": False,
        },
    )  # fmt: skip
    relay = tmp_path / "run" / "dist"

    # Cancel once step 1 is reported (progress: before training, step 1 begins, step 1 ends): the job process
    # writes STOP, the ranks agree on it at a step's end.
    first = RecordingContext(tmp_path / "run", stop_after_progress=3)
    result = run_distributed(config, first, poll_s=0.1)
    stopped_at = result["steps"]
    assert result["stopped"] and 1 <= stopped_at < steps
    ranks = _ranks(relay)
    assert [r["rank"] for r in ranks] == [0, 1]
    assert all(r["world_size"] == 2 and "gloo" in r["backend"] and r["steps"] == stopped_at for r in ranks)
    assert all(r["stopped"] for r in ranks)  # both ranks left at the same step
    events = _events(relay)
    metric_steps = [e["step"] for e in events if e["kind"] == "metrics" and "reward" in e["values"]]
    assert metric_steps == list(range(1, stopped_at + 1))  # one line per step: rank 1 reported nothing
    assert [e["step"] for e in events if e["kind"] == "checkpoint"] == [c[0] for c in first.checkpoints]
    assert first.checkpoints[-1][0] == stopped_at and (first.checkpoints[-1][1] / "config.json").is_file()
    assert {p.name for p in first.checkpoints[-1][1].glob("rng_state_*.pth")} == {"rng_state_0.pth", "rng_state_1.pth"}

    # Resume (a new attempt): both ranks load the checkpoint and continue the same curve.
    second = RecordingContext(tmp_path / "run", attempt=2)
    second.checkpoints = list(first.checkpoints)
    result = run_distributed(config, second, poll_s=0.1)
    assert result["steps"] == steps and not result["stopped"]
    assert all(r["world_size"] == 2 and r["steps"] == steps and not r["stopped"] for r in _ranks(relay))
    assert sorted(second.metrics) == list(range(stopped_at + 1, steps + 1))
    curve = {**{s: v for s, v in first.metrics.items() if s <= stopped_at}, **second.metrics}
    assert sorted(curve) == list(range(1, steps + 1)) and all("reward" in curve[s] for s in curve)
    assert [c[0] for c in second.checkpoints][-1] == steps
    assert set(second.samples) == set(range(stopped_at + 1, steps + 1))
