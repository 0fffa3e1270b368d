"""Foreground jobs (`python -m training run|resume --foreground`) with real processes: a SIGKILLed one becomes
`interrupted` at the next CLI call and resumes here; its log file exists; SIGTERM stops a GRPO step mid-way and
saves a resumable checkpoint."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from storage import checkpoints, jobs, metrics
from tests.recording_context import RecordingContext
from tests.test_cli import cli, run_main
from tests.test_jobs_kinds import KIND, ROOT, job_env, wait_for


@pytest.fixture
def db(jobs_db: Path) -> Path:
    return jobs_db


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "training", *args],
        cwd=ROOT,
        env=job_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _running_in(process: subprocess.Popen, job_id: int, step: int) -> bool:
    try:
        job = jobs.get_job(job_id)
    except Exception:  # noqa: BLE001 (not created yet)
        return False
    return job.status == "running" and job.pid == process.pid and job.progress_current >= step


def test_a_killed_foreground_job_is_interrupted_at_the_next_cli_call_and_resumes_here(db: Path, capsys) -> None:
    steps = 2000
    process = _start("run", KIND, "--set", f"steps={steps}", "--set", "batch=200", "--set", "checkpoint_every=10")
    try:
        wait_for(lambda: _running_in(process, 1, 12), 120, "the foreground job to pass its first checkpoint")
    finally:
        process.kill()
        process.wait(30)
    assert jobs.get_job(1).status == "running", "nobody has looked yet"

    code, listing, _ = run_main(capsys, "list")
    killed = jobs.get_job(1)
    assert code == 0 and killed.status == "interrupted" and "interrupted" in listing
    assert f"process {process.pid} is gone" in killed.error_message
    shown = run_main(capsys, "show", "1")[1]
    assert f"log: {killed.log_path}" in shown
    assert f"[job 1] {KIND}, run 1, attempt 1, pid {process.pid}" in Path(killed.log_path).read_text()

    resumed = cli("resume", "1", "--foreground", timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "job 2 (attempt 2 of run 1) succeeded" in resumed.stdout
    second = jobs.get_job(2)
    assert (second.status, second.previous_job_id, second.progress_current) == ("succeeded", 1, steps)
    assert metrics.metric_series(1, ["loss"])["loss"].steps == tuple(range(1, steps + 1))
    assert "[job 2] succeeded" in Path(second.log_path).read_text()


def test_resume_of_a_dead_running_job_needs_no_worker(db: Path, capsys) -> None:
    """`resume` itself recovers the job first instead of refusing it as running."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = jobs.create_job(KIND, {"steps": 3}, claim_pid=dead.pid)
    code, out, err = run_main(capsys, "resume", str(job.id))
    assert code == 0, err
    assert jobs.get_job(job.id).status == "interrupted" and f"resuming job {job.id}" in out


@pytest.fixture(scope="module")
def grpo_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset
    from training.registry import parse_config

    config = parse_config(DatasetConfig, {"num_tasks": 6, "max_constraints": 2, "math_ratio": 0.0})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


@pytest.mark.slow  # ~30 s; test_a_stop_request_ends_generation_at_the_next_token checks the mechanism quickly
def test_sigterm_ends_a_foreground_grpo_step_early_with_a_resumable_checkpoint(
    db: Path, tiny_model_dir: Path, grpo_dataset: Path
) -> None:
    # Long steps (a random tiny model rarely stops before max_completion_length) spent in TRL's own generate (the
    # policy's forward, where the stop is checked per token), and no periodic saves, so the only checkpoint is
    # the one the stop writes.
    sets = {
        "dataset": grpo_dataset, "model": tiny_model_dir, "steps": 50, "prompts_per_step": 4, "group_size": 4,
        "max_completion_length": 400, "save_every": 1000, "sample_every": 0, "learning_rate": 1e-3,
        "generation_engine": "transformers",
    }  # fmt: skip
    process = _start("run", "grpo", *[arg for k, v in sets.items() for arg in ("--set", f"{k}={v}")])
    try:
        wait_for(lambda: _running_in(process, 1, 1), 300, "the first GRPO step")
        first_step_done = time.monotonic()
        wait_for(lambda: jobs.get_job(1).progress_current >= 2 or None, 300, "the second GRPO step")
        step_time = time.monotonic() - first_step_done
        time.sleep(step_time * 0.3)  # into step 3's generation
        os.kill(process.pid, signal.SIGTERM)
        stopping = time.monotonic()
        process.wait(300)
        stop_time = time.monotonic() - stopping
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)
    job = jobs.get_job(1)
    assert job.status == "interrupted" and job.error_message.startswith("stopped by a signal"), job.error_message
    assert job.result["stopped"] is True and job.result["steps"] < 50
    (checkpoint,) = checkpoints.list_checkpoints(job.run_id)
    assert checkpoint.step == job.result["steps"] and (Path(checkpoint.path) / "trainer_state.json").is_file()
    log = Path(job.log_path).read_text()
    assert "saving what it has and stopping" in log
    # The stop did not wait for the step to finish: that step's work was dropped, the one before it kept.
    assert f"stopped in the middle of step {job.result['steps'] + 1}; keeping step {job.result['steps']}" in log
    assert stop_time < 60, (stop_time, step_time)


def test_a_stop_request_ends_generation_at_the_next_token(tiny_model_dir: Path, capsys) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.grpo_callbacks import stop_mid_step, stop_requested

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    forwards = []
    model.register_forward_pre_hook(lambda *_: forwards.append(1))

    class Callback:
        stopped_by_request = False

    callback = Callback()
    inputs = tokenizer(["Say hello."], return_tensors="pt")
    trainer = SimpleNamespace(model=model, state=SimpleNamespace(global_step=7))
    with stop_mid_step(trainer, lambda: len(forwards) >= 5, callback), torch.no_grad():
        model.generate(**inputs, max_new_tokens=200, min_new_tokens=200, do_sample=True)
    assert callback.stopped_by_request and len(forwards) == 5
    assert "stopped in the middle of step 8; keeping step 7" in capsys.readouterr().out
    model.generate(**inputs, max_new_tokens=3)  # the hook is gone afterwards
    assert len(forwards) > 5 and not stop_requested()
    with stop_mid_step(trainer, lambda: True, callback):
        assert stop_requested(), "what generation outside the policy's forward (an engine) polls"
