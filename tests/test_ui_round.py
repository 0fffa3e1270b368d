"""Pieces of the UI round without a browser: GRPO groups and advantages, the steady-step ETA that counts down,
a seeded random eval subset, error messages that name a field once, and the config diff's missing marker."""

from __future__ import annotations

import time
from pathlib import Path

from training.context import steady_unit_time
from training.grpo_callbacks import group_advantages, rollout_groups
from ui.errors import tidy


def test_groups_follow_trl_and_advantages_match_its_formula() -> None:
    assert rollout_groups(["a", "a", "b", "b", "a", "a"], 2) == [[0, 1], [4, 5], [2, 3]]
    advantages, mean, std = group_advantages([1.0, 0.0, 1.0, 0.0])
    assert mean == 0.5 and abs(std - 0.57735) < 1e-4  # unbiased, as torch.std
    assert [round(a, 3) for a in advantages] == [0.866, -0.866, 0.866, -0.866]
    assert group_advantages([0.3, 0.3])[0] == [0.0, 0.0]  # zero variance: nothing to learn


def test_eta_leaves_out_the_loading_step_and_counts_down(db: Path) -> None:
    assert steady_unit_time([(30.0, True)]) == 30.0  # only the first advance: use it
    assert steady_unit_time([(30.0, True), (2.0, False), (3.0, False)]) == 3.0  # median of the steady ones
    from storage import jobs
    from training.context import StorageJobContext

    job = jobs.create_job("generate", {}, claim_pid=12345)
    ctx = StorageJobContext(jobs.get_job(job.id), pid=12345, heartbeat_s=0.2).start()
    try:
        ctx.progress(0, 10, "loading")
        time.sleep(0.6)  # "loading": must not count as a step
        for step in (1, 2, 3):
            ctx.progress(step, 10, f"step {step}")
            time.sleep(0.1)
        first = jobs.get_job(job.id).eta_seconds
        assert first is not None and first < 7 * 0.6  # from the steady ~0.1 s steps, not the 0.6 s load
        time.sleep(0.5)  # no progress: heartbeats count the ETA down
        assert jobs.get_job(job.id).eta_seconds < first
    finally:
        ctx.close()


def test_eval_limit_takes_a_seeded_random_subset() -> None:
    from evals.suites import load_suite

    suite = load_suite("math-probe")
    first = [i.key for i in suite.limited(5).items]
    assert first == [i.key for i in suite.items[:5]]
    a = [i.key for i in suite.limited(5, sample_seed=1).items]
    assert a == [i.key for i in suite.limited(5, sample_seed=1).items] and len(a) == 5 and a != first


def test_errors_name_the_field_once() -> None:
    assert tidy("dataset: stage grpo: dataset: is required") == "stage grpo: dataset: is required"
    assert tidy("grpo.steps: must be >= 1, got 0") == "grpo.steps: must be >= 1, got 0"
