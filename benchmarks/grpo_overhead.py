"""Our grpo job vs a bare TRL GRPOTrainer script: same model, data, reward function and GRPOConfig.

    LAB_HOME=/tmp/scratch .venv/bin/python benchmarks/grpo_overhead.py [--model bundled] [--steps 6] [--rounds 2]

(Without LAB_HOME a new temp folder is used, and the bundled model is converted into it first, ~1 min.)

"Ours" is training.grpo_job.run with the storage-backed job context (metrics, samples with breakdowns, checkpoints
and progress written to SQLite); "bare" is GRPOTrainer(...).train() with the same arguments and reward and no
callbacks. A step's time is the wall time between consecutive on_log events (every step logs), so it covers
generation, reward, backward, our callbacks and storage writes. The first step of each run (warm-up) is left
out; runs alternate bare/ours to spread machine noise over both. Because other programs on a shared machine
swing step times by 2-5x, the time spent inside our callback is also measured directly (the overhead a bare
script does not have). Last line: median step-time ratio ours/bare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class TimedContext:
    """Delegates to the real job context and notes when each step's metrics arrive (once per step)."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx
        self.times: list[tuple[float, float]] = []

    def log_metrics(self, step: int, values: Any) -> None:
        if "loss" in values:  # the per-step log, not the end-of-training summary
            self.times.append(now())
        self._ctx.log_metrics(step, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


def now() -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU time is far less disturbed by other programs."""
    return time.perf_counter(), time.process_time()


def step_times(times: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(wall, CPU) intervals between consecutive steps, without the first step (which also warms up)."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(times, times[1:], strict=False)]


CALLBACK_SECONDS = [0.0]  # wall time spent inside our Trainer callback (metrics, samples, checkpoints, progress)


def time_callbacks() -> None:
    """Wrap StorageCallback's hooks to add up the time they take: the part of our step a bare script lacks."""
    from training.grpo_callbacks import StorageCallback

    for name in ("on_step_end", "on_log", "on_save"):
        original = getattr(StorageCallback, name)

        def timed(self, *args, _original=original, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            t0 = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                CALLBACK_SECONDS[0] += time.perf_counter() - t0

        setattr(StorageCallback, name, timed)


def run_ours(values: dict[str, Any]) -> list[tuple[float, float]]:
    from storage import jobs
    from training.context import StorageJobContext
    from training.grpo_job import GRPOJobConfig, run
    from training.registry import parse_config

    config = parse_config(GRPOJobConfig, values)
    job = jobs.create_job("grpo", values, claim_pid=os.getpid())
    ctx = StorageJobContext(job).start()
    timed = TimedContext(ctx)
    try:
        run(config, timed)
    finally:
        ctx.close()
    return step_times(timed.times)


def run_bare(values: dict[str, Any], work_dir: Path) -> list[tuple[float, float]]:
    """The same trainer a user would write by hand: no callbacks, no storage."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from training.grpo_job import GRPOJobConfig, load_policy, reward_function, training_rows, trl_args
    from training.grpo_trl import lora_kwargs
    from training.refs import read_rows, resolve_dataset
    from training.registry import parse_config

    config = parse_config(GRPOJobConfig, values)
    model, tokenizer, _ = load_policy(config.model, work_dir, trust_remote_code=False)
    reward, scorer = reward_function(config)
    rows = training_rows(read_rows(resolve_dataset(config.dataset)), chat=True, soft_scored=scorer is not None)
    times: list[tuple[float, float]] = []

    class Clock(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001, ANN003
            if logs and "loss" in logs:
                times.append(now())

    peft = LoraConfig(**lora_kwargs(config))  # the job's own LoRA arguments
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[reward],
        args=trl_args(config, work_dir / "bare"),
        train_dataset=Dataset.from_dict(rows),
        processing_class=tokenizer,
        peft_config=peft if config.lora else None,
        callbacks=[Clock()],
    )
    trainer.train()
    return step_times(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="policy spec (bundled, a folder, a hub id)")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=2, help="bare/ours pairs of runs")
    parser.add_argument("--completion-length", type=int, default=32)
    parser.add_argument("--reward-model", default="", help="RM folder for soft constraints (default: hard only)")
    args = parser.parse_args(argv)

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Runs and checkpoints go to $LAB_HOME (set it to a scratch folder; default: a new temp folder).
    home = Path(os.environ.get("LAB_HOME") or tempfile.mkdtemp(prefix="grpo_overhead_"))
    os.environ["LAB_HOME"] = str(home)
    from tests.recording_context import RecordingContext
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as build_dataset
    from training.registry import parse_config

    dataset = build_dataset(
        parse_config(DatasetConfig, {"name": "overhead", "num_tasks": 20, "max_constraints": 3, "math_ratio": 0.2}),
        RecordingContext(home / "overhead_dataset"),
    )["path"]
    values = {
        "model": args.model, "dataset": dataset, "reward_model": args.reward_model, "steps": args.steps,
        "prompts_per_step": 2, "group_size": 4, "max_completion_length": args.completion_length,
        "save_every": max(2, args.steps // 2), "sample_every": 1, "samples_per_log": 4, "learning_rate": 1e-4,
    }  # fmt: skip
    time_callbacks()
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bare_") as work_dir:
            bare += run_bare(values, Path(work_dir))
        ours += run_ours(values)
        print(f"round {r + 1}: median wall s/step bare {median(bare, 0):.2f}, ours {median(ours, 0):.2f}")
    for name, times in (("bare", bare), ("ours", ours)):
        print(f"{name} step wall s: {', '.join(f'{t[0]:.2f}' for t in times)}")
        print(f"{name} step CPU s:  {', '.join(f'{t[1]:.2f}' for t in times)}")
    per_step = CALLBACK_SECONDS[0] / (args.rounds * args.steps)
    print(f"time in our callbacks: {per_step:.3f} s/step = {per_step / median(bare, 0):.1%} of a bare step")
    print(f"CPU-time ratio ours/bare: {median(ours, 1) / median(bare, 1):.3f}")
    print(f"step_time_ratio {median(ours, 0) / median(bare, 0):.3f}")
    return 0


def median(times: list[tuple[float, float]], index: int) -> float:
    return statistics.median(t[index] for t in times)


if __name__ == "__main__":
    sys.exit(main())
