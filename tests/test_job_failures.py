"""Honest ends: a full disk fails a job with one clear message (and the end survives a database that refuses
it), and a resumed attempt never leaves a step with rows of two attempts."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from storage import checkpoints, jobs, metrics, samples
from storage.db import read_connection
from tests.test_jobs_kinds import KIND, LinearFitConfig, start_worker, stop_process, wait_for
from tests.test_jobs_kinds import run as linear_fit
from training import outcome, run_job, worker
from training.context import StorageJobContext
from training.jobs import submit_job
from training.registry import parse_config

DISK_FULL_AT_20 = "disk full while saving checkpoint-20 (No space left on device: "


@pytest.fixture
def db(jobs_db: Path) -> Path:
    return jobs_db


def _integrity() -> str:
    with read_connection() as conn:
        return conn.execute(text("PRAGMA integrity_check")).scalar_one()


def _sqlite_full() -> OperationalError:
    return OperationalError("UPDATE jobs SET ...", {}, sqlite3.OperationalError("database or disk is full"))


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        _sqlite_full(),
        RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file data/3"),
        RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0: iostream error"),
    ],
)
def test_every_kind_of_full_disk_reads_the_same(error: BaseException) -> None:
    try:
        raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        message = outcome.describe_failure(wrapped, doing="saving checkpoint-10")
    assert message.startswith("disk full while saving checkpoint-10 (")
    assert outcome.describe_failure(ValueError("bad"), doing="saving checkpoint-10") == "ValueError: bad"


def test_enospc_while_saving_a_checkpoint_fails_the_job_with_the_disk_full_message(db) -> None:
    """A real worker runs linear_fit, whose checkpoint writer hits ENOSPC at step 20."""
    job = submit_job(KIND, {"steps": 40, "checkpoint_every": 10, "disk_full_at": 20})
    process = start_worker("--exit-when-idle")
    try:
        ended = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, 60, "the job to end")
        process.wait(30)
    finally:
        stop_process(process)
    assert ended.status == "failed"
    assert ended.error_message.startswith(DISK_FULL_AT_20), ended.error_message
    assert "ckpt-20" in ended.error_message and "OSError" in ended.error_traceback
    assert checkpoints.last_checkpoint(job.run_id).step == 10
    assert metrics.last_metric_step(job.run_id) == 20
    assert not outcome.outcome_path(ended.log_path).exists()  # recorded, so no side file is left
    assert _integrity() == "ok"


def test_a_failed_record_of_the_end_is_retried(db, monkeypatch) -> None:
    monkeypatch.setattr(run_job, "RECORD_RETRY_S", (0.01, 0.01, 0.01))
    real_finish, calls = jobs.finish_job, []

    def finish(*args, **kwargs):
        calls.append(args)
        if len(calls) <= 2:
            raise _sqlite_full()
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(run_job.jobs, "finish_job", finish)
    job = jobs.create_job(KIND, {"steps": 12}, claim_pid=os.getpid())
    assert run_job.execute(job.id, exit_when_lost=False) == "succeeded"
    assert len(calls) == 3
    ended = jobs.get_job(job.id)
    assert ended.status == "succeeded" and ended.result["steps_done"] == 12
    assert not outcome.outcome_path(ended.log_path).exists()


def test_an_end_the_database_refused_is_recorded_later_from_the_side_file(db, monkeypatch) -> None:
    """The job hits ENOSPC, and recording that fails too: the job process leaves the end in the outcome file
    and exits 74; the worker keeps retrying with backoff (two more refusals) and then records its words."""
    monkeypatch.setattr(run_job, "RECORD_RETRY_S", (0.01,))
    monkeypatch.setenv("LAB_RECORD_RETRY_MAX_S", "0.05")
    real_finish = jobs.finish_job
    refusals = {"left": 4}  # 2 in the job process, 2 in the worker

    def finish(*args, **kwargs):
        if refusals["left"]:
            refusals["left"] -= 1
            raise _sqlite_full()
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(jobs, "finish_job", finish)
    job = jobs.create_job(KIND, {"steps": 40, "checkpoint_every": 10, "disk_full_at": 20}, claim_pid=os.getpid())
    assert run_job.execute(job.id, exit_when_lost=False) == "failed"
    assert jobs.get_job(job.id).status == "running"  # the database never heard of the end
    left = outcome.read_outcome(job.log_path)
    assert left.status == "failed" and left.message.startswith(DISK_FULL_AT_20)

    the_worker = worker.Worker(poll_s=0.01)
    exited = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({outcome.EXIT_UNRECORDED})"])
    exited.wait(30)
    the_worker.children[job.id] = worker._Child(jobs.get_job(job.id), exited)
    the_worker.step()
    assert job.id in the_worker.pending_ends and jobs.get_job(job.id).status == "running"
    wait_for(lambda: (the_worker.step(), not the_worker.pending_ends)[1], 10, "the retries to get through")
    ended = jobs.get_job(job.id)
    assert ended.status == "failed" and ended.error_message.startswith(DISK_FULL_AT_20)
    assert ended.exit_code == outcome.EXIT_UNRECORDED
    assert not outcome.outcome_path(job.log_path).exists()
    assert _integrity() == "ok"


def test_recovery_of_a_dead_job_uses_its_side_file_not_process_gone(db) -> None:
    job = jobs.create_job(KIND, {"steps": 5}, claim_pid=os.getpid())
    end = outcome.Outcome("failed", "disk full while saving checkpoint-10 (No space left on device)", exit_code=0)
    assert outcome.write_outcome(job.log_path, end)
    assert worker.recover_jobs(stale_s=0) == [job.id]  # its heartbeat counts as stale now
    ended = jobs.get_job(job.id)
    assert (ended.status, ended.error_message) == ("failed", end.message)
    assert not outcome.outcome_path(job.log_path).exists()


class _Killed(BaseException):
    """Stands for the process dying (nothing after it runs)."""


def test_resume_drops_rows_the_killed_attempt_logged_after_its_checkpoint(db) -> None:
    """Attempt 1 checkpoints at step 20, logs steps 21..25 (with an `extra` metric and two samples every 3rd
    step) and dies; attempt 2 resumes at 20 and logs `attempt` = 2 and one sample there: no step mixes them."""
    values = {"steps": 30, "checkpoint_every": 10, "mark_attempts": True}
    first = jobs.create_job(KIND, values, claim_pid=os.getpid())
    ctx = StorageJobContext(first)
    progress = ctx.progress

    def progress_then_die(current: int, total: int, message: str = "") -> None:
        progress(current, total, message)
        if current == 25:
            ctx.flush()
            raise _Killed

    ctx.progress = progress_then_die
    with pytest.raises(_Killed):
        linear_fit(parse_config(LinearFitConfig, values), ctx)
    run_id = first.run_id
    assert metrics.last_metric_step(run_id) == 25 and checkpoints.last_checkpoint(run_id).step == 20
    assert jobs.mark_interrupted(first.id, "killed", jobs.get_job(first.id).heartbeat_at)

    second = jobs.create_resume_job(first.id)
    assert jobs.claim_next_job(os.getpid()).id == second.id
    assert run_job.execute(second.id, exit_when_lost=False) == "succeeded"

    series = metrics.metric_series(run_id)
    by_step = dict(zip(series["attempt"].steps, series["attempt"].values, strict=True))
    assert by_step == {step: 1.0 if step <= 20 else 2.0 for step in range(1, 31)}
    assert series["extra"].steps == (3, 6, 9, 12, 15, 18)  # attempt 1's rows after its checkpoint are gone
    for name, curve in series.items():
        assert curve.steps == tuple(sorted(set(curve.steps))), name
    rows = samples.list_samples(run_id, limit=1000)
    assert {(s.step, s.idx, s.job_id) for s in rows if s.step > 20} == {
        (21, 0, second.id),
        (24, 0, second.id),
        (27, 0, second.id),
        (30, 0, second.id),
    }
    assert all(s.job_id == first.id for s in rows if s.step <= 20)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """$LAB_HOME on a 3 MB tmpfs (needs root and mount; skipped elsewhere)."""
    import storage
    from storage.db import dispose_engine

    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    monkeypatch.setenv("LAB_HOME", str(mount_point / "lab"))
    monkeypatch.setenv("LAB_JOB_MODULES", "tests.test_jobs_kinds")
    storage.init_db()
    try:
        yield mount_point
    finally:
        dispose_engine()
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.mark.slow
def test_a_real_full_disk_fails_the_job_with_the_disk_full_message(small_disk: Path) -> None:
    job = submit_job(KIND, {"steps": 100_000, "batch": 8, "checkpoint_every": 50})
    process = start_worker()
    try:
        wait_for(lambda: (metrics.last_metric_step(job.run_id) or 0) >= 100, 60, "the job to make progress")
        filler = small_disk / "filler"
        with pytest.raises(OSError), filler.open("wb", buffering=0) as handle:
            while True:
                handle.write(b"x" * 65536)
        ended = wait_for(lambda: (j := jobs.get_job(job.id)).finished and j, 60, "the job to end")
        assert ended.status == "failed"
        assert ended.error_message.startswith("disk full while "), ended.error_message
        filler.unlink()  # room again: the database is intact and readable
        assert _integrity() == "ok"
    finally:
        stop_process(process)
