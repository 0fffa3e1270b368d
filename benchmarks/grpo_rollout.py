"""GRPO step time today's way (TRL's own transformers generate, TRL's per-row training forward) vs the fast path
(lab.generation rollouts, the torch engine by default, policy weights synced every step; the training forward with
each group's prompt run once: training/grpo_shared_prompt.py), at the cpu-30min preset's grpo config
(training/presets/cpu-30min.yaml), in one run.

    LAB_HOME=/tmp/scratch .venv/bin/python benchmarks/grpo_rollout.py [--steps 4] [--engines torch,transformers]

`--engines torch,transformers` also times the shared-prompt forward alone (TRL's generate for the rollouts).
`--old-shared` gives the old run the shared-prompt forward too (the rollout engine alone).

Both runs are training.grpo_job.run on the same curriculum dataset (the preset's dataset config), same seed, hard
constraints only (no reward-model stage: it scores the same completions either way). A step's time is the wall
time between consecutive per-step logs, so the new run's time includes the weight sync (also printed on its own,
from the engine/sync_s metric). The first step of each run (warm-up, engine build) is left out. The old rollouts
(TRL's generate) are timed too, to show their share of the old step. The per-step mean reward of both runs is
printed (sampling differs between engines, so the curves are compared in shape, not token for token). Last line:
median step-time ratio new/old for the first engine (below 1 = faster).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.grpo_overhead import now, step_times  # noqa: E402


class StepClock:
    """A RecordingContext that notes when each step's metrics arrive."""

    def __init__(self, work_dir: Path) -> None:
        from tests.recording_context import RecordingContext

        self.ctx = RecordingContext(work_dir)
        self.times: list[tuple[float, float]] = []

    def log_metrics(self, step: int, values: Any) -> None:
        if "loss" in values:
            self.times.append(now())
        self.ctx.log_metrics(step, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)


OLD_ROLLOUT_SECONDS: list[float] = []


def time_trl_generation() -> None:
    """Time TRL's own generate (the old path's rollouts) to show its share of the old step."""
    import time

    from trl import GRPOTrainer

    original = GRPOTrainer._generate_single_turn

    def timed(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            OLD_ROLLOUT_SECONDS.append(time.perf_counter() - started)

    GRPOTrainer._generate_single_turn = timed


def run_grpo(
    values: dict[str, Any], engine: str, work_dir: Path, shared: bool
) -> tuple[list[float], list[float], dict]:
    from training.grpo_job import GRPOJobConfig, run
    from training.registry import parse_config

    clock = StepClock(work_dir)
    run(parse_config(GRPOJobConfig, {**values, "generation_engine": engine, "share_prompt_forward": shared}), clock)
    metrics = clock.ctx.metrics
    syncs = [m["engine/sync_s"] for _, m in sorted(metrics.items()) if "engine/sync_s" in m]
    return step_times(clock.times), syncs, metrics


def rewards(metrics: dict) -> str:
    return ", ".join(f"{m['reward']:.3f}" for _, m in sorted(metrics.items()) if "reward" in m)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4, help="steps per run (the first is left out)")
    parser.add_argument("--rounds", type=int, default=1, help="old/new pairs of runs")
    parser.add_argument("--engines", default="torch", help="rollout engines to try, comma-separated (first: last line)")
    parser.add_argument("--preset", default=str(ROOT / "training" / "presets" / "cpu-30min.yaml"))
    parser.add_argument("--old-shared", action="store_true", help="the old run shares prompts too")
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    home = Path(os.environ.get("LAB_HOME") or tempfile.mkdtemp(prefix="grpo_rollout_"))
    os.environ["LAB_HOME"] = str(home)
    from tests.recording_context import RecordingContext
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as build_dataset
    from training.registry import parse_config

    preset = yaml.safe_load(Path(args.preset).read_text())
    dataset = build_dataset(parse_config(DatasetConfig, preset["dataset"]), RecordingContext(home / "dataset"))["path"]
    values = {**preset["grpo"], "dataset": dataset, "reward_model": "", "steps": args.steps, "save_every": 10**6}
    time_trl_generation()
    engines = [e for e in args.engines.split(",") if e]
    old: list[tuple[float, float]] = []
    new: dict[str, list[tuple[float, float]]] = {e: [] for e in engines}
    syncs: dict[str, list[float]] = {e: [] for e in engines}
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="old_", dir=home) as work:
            times, _, metrics = run_grpo(values, "transformers", Path(work), args.old_shared)
            old += times
        print(f"round {r + 1}: old s/step {', '.join(f'{w:.1f} ({c:.1f} CPU)' for w, c in times)}", flush=True)
        print(f"round {r + 1}: old rollout s {', '.join(f'{t:.1f}' for t in OLD_ROLLOUT_SECONDS[-len(times) :])}")
        print(f"round {r + 1}: old reward {rewards(metrics)}")
        for engine in engines:
            with tempfile.TemporaryDirectory(prefix="new_", dir=home) as work:
                times, sync, metrics = run_grpo(values, engine, Path(work), True)
            new[engine] += times
            syncs[engine] += sync[1:]  # the first "sync" is the engine's first build
            gen = [m["engine/generate_s"] for _, m in sorted(metrics.items()) if "engine/generate_s" in m][1:]
            gen = gen or OLD_ROLLOUT_SECONDS[-len(times) :]  # transformers: TRL's own generate, timed above
            print(f"round {r + 1}: new {engine} s/step {', '.join(f'{w:.1f} ({c:.1f} CPU)' for w, c in times)}")
            print(f"round {r + 1}: new {engine} rollout s {', '.join(f'{t:.1f}' for t in gen)}", flush=True)
            print(f"round {r + 1}: new {engine} reward {rewards(metrics)}")
    print(f"config: {args.preset} grpo section, hard constraints only, {os.cpu_count()} CPUs")
    old_wall, old_cpu = statistics.median(w for w, _ in old), statistics.median(c for _, c in old)
    forward = "shared-prompt" if args.old_shared else "TRL's per-row"
    print(f"old (TRL generate, {forward} forward): median {old_wall:.2f} s/step ({old_cpu:.2f} CPU)")
    for engine in engines:
        wall, cpu = statistics.median(w for w, _ in new[engine]), statistics.median(c for _, c in new[engine])
        sync = statistics.median(syncs[engine] or [0.0])
        print(
            f"new ({engine}, shared-prompt forward): median {wall:.2f} s/step ({cpu:.2f} CPU), "
            f"weight sync {sync:.2f} s/step, "
            f"ratio new/old {wall / old_wall:.3f} (CPU {cpu / old_cpu:.3f})"
        )
    first = engines[0]
    print(f"step_time_ratio_new_over_old {statistics.median(w for w, _ in new[first]) / old_wall:.3f} ({first})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
