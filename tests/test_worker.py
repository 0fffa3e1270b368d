"""The worker with real processes: kill -9 of a job or of the worker, cancel (graceful and forced), resume.

The generate jobs use the tiny local model; batch_size 1 over many prompts keeps a job busy long enough to
kill it mid-run. `linear_fit` (tests/test_jobs_kinds.py) is a pure-Python SGD kind with checkpoints.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from storage import checkpoints, jobs, metrics, runs, samples
from tests.test_jobs_kinds import KIND, start_worker, stop_process, wait_for
from training.jobs import cancel_job, resume_job, submit_job
from training.worker import pid_alive

PROMPTS = 60


@pytest.fixture
def db(jobs_db: Path) -> Path:
    return jobs_db


@pytest.fixture
def generate_config(tiny_model_dir: Path, tmp_path: Path) -> dict:
    path = tmp_path / "prompts.jsonl"
    with path.open("w") as handle:
        for i in range(PROMPTS):
            row = {
                "key": f"p{i}",
                "prompt": f"Describe item number {i} in one sentence without commas.",
                "instruction_id_list": ["punctuation:no_comma", "change_case:english_lowercase"],
                "kwargs": [{}, {}],
                "level": 2,
                "source": "test",
            }
            handle.write(json.dumps(row) + "\n")
    return {"model": str(tiny_model_dir), "prompts": str(path), "batch_size": 1, "max_new_tokens": 8}


@pytest.fixture
def worker_processes():
    started = []

    def start(*args: str, **env: str):
        process = start_worker(*args, **env)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


def _snapshot(run_id: int) -> tuple[set, set]:
    series = metrics.metric_series(run_id)
    metric_rows = {
        (name, step, value) for name, s in series.items() for step, value in zip(s.steps, s.values, strict=True)
    }
    sample_rows = {(s.step, s.idx, s.prompt, s.response) for s in samples.list_samples(run_id, limit=100_000)}
    return metric_rows, sample_rows


def _job_process_pid(job_id: int) -> int:
    """The pid of the job's own process (until it reports in, the job row holds the worker's pid)."""

    def attached():
        job = jobs.get_job(job_id)
        return job.pid if job.status == "running" and job.pid != job.worker_pid else None

    return wait_for(attached, 60, f"job {job_id}'s process to start")


def _assert_complete_generate_run(run_id: int, steps: int) -> None:
    series = metrics.metric_series(run_id)
    assert series, "no metrics"
    for name, s in series.items():
        assert s.steps == tuple(range(1, steps + 1)), f"{name}: gaps or repeats"
    rows = samples.list_samples(run_id, limit=100_000)
    assert [(s.step, s.idx) for s in rows] == [(step, 0) for step in range(1, steps + 1)]
    assert [s.meta["index"] for s in rows] == list(range(steps))
    assert all(s.breakdown["results"] and s.reward is not None for s in rows)


def test_kill_9_of_the_job_process_then_resume(db, generate_config, worker_processes) -> None:
    job = submit_job("generate", generate_config)
    worker_processes()
    pid = _job_process_pid(job.id)
    wait_for(lambda: samples.count_samples(job.run_id) >= 5, 60, "a few finished batches")
    before_kill = _snapshot(job.run_id)
    os.kill(pid, signal.SIGKILL)

    interrupted = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, 30, "the worker to notice")
    assert interrupted.status == "interrupted" and "SIGKILL" in interrupted.error_message
    at_interrupt = _snapshot(job.run_id)
    done_batches = runs.load_state(job.run_id)["next_batch"]
    assert 5 <= done_batches < PROMPTS, "the job was not killed mid-run"
    # Rows are saved with the state per batch; at most the batch in flight can be ahead (a timed flush), and
    # the resume overwrites it in place.
    assert done_batches <= samples.count_samples(job.run_id) <= done_batches + 1

    second = resume_job(job.id)
    assert (second.attempt, second.previous_job_id, second.run_id) == (2, job.id, job.run_id)
    finished = wait_for(lambda: (j := jobs.get_job(second.id)).finished and j, 120, "the resumed job")
    assert finished.status == "succeeded", finished.error_message
    assert finished.result["batches"] == PROMPTS and finished.result["batches_done"] == PROMPTS

    _assert_complete_generate_run(job.run_id, PROMPTS)
    final_metrics, final_samples = _snapshot(job.run_id)
    for metric_rows, sample_rows in (before_kill, at_interrupt):
        assert metric_rows <= final_metrics and sample_rows <= final_samples
    # The resumed attempt started at the first unfinished batch: no batch was generated twice.
    by_job = {s.step: s.job_id for s in samples.list_samples(job.run_id, limit=100_000)}
    assert {step for step, j in by_job.items() if j == job.id} == set(range(1, done_batches + 1))
    assert runs.get_run(job.run_id).status == "succeeded"


def test_cancel_ends_cancelled_within_the_grace_period_keeping_results(db, worker_processes) -> None:
    """linear_fit saves a checkpoint when it sees the cancel; a resume continues from exactly there."""
    grace, steps = 20.0, 600
    job = submit_job(KIND, {"steps": steps, "batch": 200, "checkpoint_every": 1000})
    worker_processes(LAB_CANCEL_GRACE_S=str(grace))
    _job_process_pid(job.id)
    wait_for(lambda: (metrics.last_metric_step(job.run_id) or 0) >= 20, 60, "the job to make progress")
    cancel_job(job.id)
    asked = time.monotonic()
    ended = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, grace + 10, "the job to stop")
    assert time.monotonic() - asked < grace
    assert ended.status == "cancelled" and "kept" in ended.error_message
    kept = ended.result["steps_done"]
    assert 20 <= kept < steps
    assert metrics.metric_series(job.run_id, ["loss"])["loss"].steps == tuple(range(1, kept + 1))
    assert checkpoints.last_checkpoint(job.run_id).step == kept  # saved on the way out
    assert "cancelled" in Path(ended.log_path).read_text()

    second = resume_job(job.id)
    finished = wait_for(lambda: (j := jobs.get_job(second.id)).finished and j, 120, "the resumed job")
    assert finished.status == "succeeded", finished.error_message
    assert metrics.metric_series(job.run_id, ["loss"])["loss"].steps == tuple(range(1, steps + 1))


@pytest.mark.slow
def test_cancel_of_a_generate_job_keeps_its_batches(db, generate_config, worker_processes) -> None:
    grace = 20.0
    job = submit_job("generate", generate_config)
    # Plain transformers: the CTranslate2 engine answers all 60 one-prompt batches before a cancel can land.
    worker_processes(LAB_CANCEL_GRACE_S=str(grace), LAB_GENERATION_ENGINE="transformers")
    _job_process_pid(job.id)
    wait_for(lambda: samples.count_samples(job.run_id) >= 3, 60, "a few finished batches")
    cancel_job(job.id)
    asked = time.monotonic()
    ended = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, grace + 10, "the job to stop")
    assert time.monotonic() - asked < grace
    assert ended.status == "cancelled" and "kept" in ended.error_message
    kept = samples.count_samples(job.run_id)
    assert 3 <= kept < PROMPTS
    assert metrics.metric_series(job.run_id, ["reward/mean"])["reward/mean"].steps == tuple(range(1, kept + 1))
    assert runs.load_state(job.run_id)["next_batch"] == kept


def test_job_ignoring_cancel_is_killed_after_the_grace_period(db, worker_processes) -> None:
    job = submit_job(KIND, {"steps": 100_000, "batch": 64, "honour_cancel": False})
    worker_processes(LAB_CANCEL_GRACE_S="1")
    pid = _job_process_pid(job.id)
    wait_for(lambda: metrics.count_metrics(job.run_id) > 0, 30, "the job to log")
    cancel_job(job.id)
    ended = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, 30, "the hard kill")
    assert ended.status == "cancelled" and "grace period" in ended.error_message
    wait_for(lambda: not pid_alive(pid), 10, "the job process to be gone")
    assert metrics.count_metrics(job.run_id) > 0  # partial results kept


def _kill_worker_and_recover(job_id: int, run_id: int, worker, worker_processes, progressed) -> tuple:
    job_pid = _job_process_pid(job_id)
    wait_for(progressed, 60, "the job to make progress")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    # The job process dies with its worker (no orphan keeps writing), but nobody has told the database yet.
    wait_for(lambda: not pid_alive(job_pid), 10, "the job process to die with the worker")
    assert jobs.get_job(job_id).status == "running"
    snapshot = _snapshot(run_id)
    worker_processes()  # a new worker recovers the job at start
    interrupted = wait_for(lambda: (j := jobs.get_job(job_id)).finished and j, 30, "recovery")
    assert interrupted.status == "interrupted" and "is gone" in interrupted.error_message
    return snapshot


def test_kill_9_of_the_worker_then_a_new_worker_recovers_and_resumes(db, worker_processes) -> None:
    """linear_fit resumes from its last checkpoint and replays the steps after it (training-style resume)."""
    steps = 1500
    job = submit_job(KIND, {"steps": steps, "batch": 100, "checkpoint_every": 50})
    worker = worker_processes()
    snapshot = _kill_worker_and_recover(
        job.id, job.run_id, worker, worker_processes, lambda: (metrics.last_metric_step(job.run_id) or 0) >= 100
    )
    last_checkpoint = checkpoints.last_checkpoint(job.run_id).step
    assert 0 < last_checkpoint < steps
    second = resume_job(job.id)
    finished = wait_for(lambda: (j := jobs.get_job(second.id)).finished and j, 120, "the resumed job")
    assert finished.status == "succeeded", finished.error_message
    series = metrics.metric_series(job.run_id)
    assert len(series) == 3 + 8
    for name, s in series.items():
        assert s.steps == tuple(range(1, steps + 1)), f"{name}: gaps or repeats"
    # Replayed steps recompute the same values (same checkpoint, same minibatch seeds): nothing lost or changed.
    assert snapshot[0] <= _snapshot(job.run_id)[0]
    assert finished.result["steps_done"] == steps


@pytest.mark.slow
def test_kill_9_of_the_worker_during_generate(db, generate_config, worker_processes) -> None:
    job = submit_job("generate", generate_config)
    worker = worker_processes()
    snapshot = _kill_worker_and_recover(
        job.id, job.run_id, worker, worker_processes, lambda: samples.count_samples(job.run_id) >= 5
    )
    second = resume_job(job.id)
    finished = wait_for(lambda: (j := jobs.get_job(second.id)).finished and j, 120, "the resumed job")
    assert finished.status == "succeeded", finished.error_message
    _assert_complete_generate_run(job.run_id, PROMPTS)
    final = _snapshot(job.run_id)
    assert snapshot[0] <= final[0] and snapshot[1] <= final[1]


@pytest.mark.slow
def test_worker_shutdown_interrupts_its_job_gracefully(db, generate_config, worker_processes) -> None:
    job = submit_job("generate", generate_config)
    worker = worker_processes()
    _job_process_pid(job.id)
    wait_for(lambda: samples.count_samples(job.run_id) >= 2, 60, "a few finished batches")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(30) == 0
    ended = jobs.get_job(job.id)
    assert ended.status == "interrupted" and "signal" in ended.error_message
    assert runs.load_state(job.run_id)["next_batch"] == samples.count_samples(job.run_id)
