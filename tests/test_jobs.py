"""The job system without a model: submit checks, atomic claims, recovery, the storage-backed JobContext,
and 20 reader threads polling while a real job process writes thousands of metric points."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

import storage
from lab.errors import LabError
from storage import checkpoints, jobs, metrics, runs, samples
from tests.test_jobs_kinds import KIND, start_worker, stop_process, wait_for
from training.context import JobLostError, StorageJobContext
from training.jobs import resume_job, submit_job
from training.worker import pid_alive, recover_jobs


@pytest.fixture
def db(jobs_db: Path) -> Path:
    return jobs_db


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.jsonl"
    rows = [{"prompt": f"Say {i} without commas.", "instruction_id_list": ["punctuation:no_comma"]} for i in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- refused at submit


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "unknown field"),
        ({"batch_size": "eight"}, "batch_size", "integer"),
        ({"temperature": [1]}, "temperature", "number"),
        ({"batch_size": 0}, "batch_size", ">= 1"),
        ({"checkpoint": 77}, "checkpoint", "no stored checkpoint"),
        ({"reward_model": 78}, "reward_model", "no stored checkpoint"),
        ({"model": "/no/such/folder"}, "model", "does not exist"),
        ({"prompts": "/no/such/prompts.jsonl"}, "prompts", "neither"),
        ({"prompts": "suite:nope"}, "prompts", "unknown suite"),
    ],
)
def test_bad_generate_config_is_refused_and_nothing_is_queued(db, tiny_model_dir, prompts_file, values, field, words):
    config = {"model": str(tiny_model_dir), "prompts": str(prompts_file), **values}
    with pytest.raises(LabError) as error:
        submit_job("generate", config)
    assert error.value.field == field
    assert words in str(error.value) and field in str(error.value)
    assert jobs.list_jobs() == [] and runs.list_runs() == []


def test_unknown_kind_is_refused_naming_the_allowed_kinds(db) -> None:
    with pytest.raises(LabError) as error:
        submit_job("train_everything", {})
    assert error.value.field == "kind" and "generate" in str(error.value)
    assert jobs.list_jobs() == []


def test_good_config_is_queued_with_defaults_filled_in(db, tiny_model_dir, prompts_file) -> None:
    job = submit_job("generate", {"model": str(tiny_model_dir), "prompts": str(prompts_file)}, name="first")
    assert job.status == "queued" and job.config["batch_size"] == 8 and job.config["checkpoint"] is None
    assert runs.get_run(job.run_id).name == "first"


def test_resume_checks_the_config_again(db, tiny_model_dir, prompts_file, tmp_path) -> None:
    folder = tmp_path / "ckpt"
    folder.mkdir()
    source = jobs.create_job(KIND, {"steps": 1})
    checkpoint_id = checkpoints.register_checkpoint(source.run_id, 1, folder)
    job = submit_job("generate", {"checkpoint": checkpoint_id, "prompts": str(prompts_file)})
    jobs.request_cancel(job.id)
    folder.rmdir()
    with pytest.raises(LabError) as error:
        resume_job(job.id)
    assert error.value.field == "checkpoint" and "no longer exists" in str(error.value)
    assert len(jobs.list_jobs(run_id=job.run_id)) == 1


# ---------------------------------------------------------------- atomic claims


def _claim_all(home: str, start, results) -> None:  # noqa: ANN001
    os.environ["LAB_HOME"] = home
    storage.init_db()
    start.wait()
    mine = []
    while (job := jobs.claim_next_job(os.getpid())) is not None:
        mine.append(job.id)
    results.put(mine)


def test_concurrent_workers_never_claim_the_same_job(db, lab_home) -> None:
    queued = {jobs.create_job(KIND, {"steps": i + 1}).id for i in range(150)}
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    start = spawn.Barrier(3)
    procs = [spawn.Process(target=_claim_all, args=(str(lab_home), start, results)) for _ in range(3)]
    for p in procs:
        p.start()
    claimed = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
    flat = [job_id for ids in claimed for job_id in ids]
    assert len(flat) == len(set(flat)) == 150
    assert set(flat) == queued
    assert sum(1 for ids in claimed if ids) >= 2, "the workers did not overlap"
    assert jobs.status_counts() == {"running": 150}


# ---------------------------------------------------------------- crash recovery


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_recover_interrupts_dead_and_silent_jobs_only(db) -> None:
    ids = [jobs.create_job(KIND, {}).id for _ in range(4)]
    for _ in ids:
        jobs.claim_next_job(os.getpid())
    dead, stale, healthy, elsewhere = ids
    jobs.attach_process(dead, _dead_pid())
    jobs.attach_process(healthy, os.getpid())
    jobs.attach_process(stale, os.getpid())
    with storage.write_session() as session:  # a live pid whose heartbeat stopped 10 minutes ago
        session.get(storage.models.Job, stale).heartbeat_at = time.time() - 600
        session.get(storage.models.Job, elsewhere).host = "another-machine"
    assert sorted(recover_jobs(stale_s=120)) == [dead, stale]
    assert [jobs.get_job(i).status for i in ids] == ["interrupted", "interrupted", "running", "running"]
    assert "is gone" in jobs.get_job(dead).error_message
    assert "no heartbeat" in jobs.get_job(stale).error_message
    assert runs.get_run(jobs.get_job(dead).run_id).status == "interrupted"


def test_pid_alive() -> None:
    assert pid_alive(os.getpid())
    assert not pid_alive(_dead_pid())


# ---------------------------------------------------------------- the storage-backed JobContext


def _running_job(**config) -> jobs.JobRecord:
    job = jobs.create_job(KIND, config, claim_pid=os.getpid())
    return job


def test_context_batches_writes_and_saves_state_with_its_rows(db) -> None:
    job = _running_job()
    ctx = StorageJobContext(job, heartbeat_s=60, flush_rows=1000, flush_s=3600)
    assert ctx.resume_state() == {} and ctx.attempt == 1 and ctx.work_dir.is_dir()
    for step in range(1, 11):
        ctx.log_metrics(step, {"loss": 1 / step, "acc": step / 10})
    ctx.log_samples(10, [{"prompt": "p", "response": "r", "breakdown": {"reward": 1.0}, "reward": 1.0}])
    assert metrics.count_metrics(job.run_id) == 0  # still buffered
    ctx.save_state({"next_step": 11})
    assert metrics.count_metrics(job.run_id) == 20 and samples.count_samples(job.run_id) == 1
    assert runs.load_state(job.run_id) == {"next_step": 11}
    assert ctx.last_metric_step() == 10
    for step in range(11, 11 + 600):  # 1,200 rows > flush_rows: written without an explicit flush
        ctx.log_metrics(step, {"loss": 0.0, "acc": 1.0})
    assert metrics.count_metrics(job.run_id) >= 1000
    ctx.close()
    assert metrics.count_metrics(job.run_id) == 1220
    with pytest.raises(TypeError, match="plain JSON"):
        ctx.save_state({"bad": object()})
    with pytest.raises(TypeError, match="number"):
        ctx.log_metrics(1, {"loss": "high"})


def test_context_progress_eta_and_cancel(db) -> None:
    job = _running_job()
    ctx = StorageJobContext(job, heartbeat_s=0.1).start()
    ctx.progress(0, 10, "starting")
    time.sleep(0.6)
    ctx.progress(5, 10, "half")
    shown = jobs.get_job(job.id)
    assert (shown.progress_current, shown.progress_total, shown.progress_message) == (5, 10, "half")
    assert 0.3 < shown.eta_seconds < 3
    assert not ctx.should_stop()
    jobs.request_cancel(job.id)
    wait_for(ctx.should_stop, 5, "the cancel flag to reach the job")
    assert ctx.stop_reason == "cancel"
    ctx.close()


def test_resumed_attempt_overwrites_replayed_steps(db) -> None:
    job = _running_job()
    ctx = StorageJobContext(job, heartbeat_s=60)
    for step in (1, 2, 3):
        ctx.log_metrics(step, {"loss": float(step)})
        ctx.log_samples(step, [{"prompt": f"p{step}", "response": "first", "breakdown": {}}] * 2)
    ctx.close()
    jobs.finish_job(job.id, "interrupted")
    second = jobs.create_resume_job(job.id)
    jobs.claim_next_job(os.getpid())
    jobs.attach_process(second.id, os.getpid())
    ctx2 = StorageJobContext(jobs.get_job(second.id), heartbeat_s=60)
    assert ctx2.attempt == 2 and ctx2.last_metric_step() == 3
    for step in (3, 4):  # step 3 is replayed
        ctx2.log_metrics(step, {"loss": step * 10.0})
        ctx2.log_samples(step, [{"prompt": f"p{step}", "response": "second", "breakdown": {}}] * 2)
    ctx2.close()
    loss = metrics.metric_series(job.run_id)["loss"]
    assert loss.steps == (1, 2, 3, 4) and loss.values == (1.0, 2.0, 30.0, 40.0)
    rows = samples.list_samples(job.run_id)
    assert [(s.step, s.idx, s.response) for s in rows] == [
        (1, 0, "first"), (1, 1, "first"), (2, 0, "first"), (2, 1, "first"),
        (3, 0, "second"), (3, 1, "second"), (4, 0, "second"), (4, 1, "second"),
    ]  # fmt: skip


def test_context_that_lost_its_job_writes_nothing(db) -> None:
    job = _running_job()
    ctx = StorageJobContext(job, heartbeat_s=60)
    ctx.log_metrics(1, {"loss": 1.0})
    with storage.write_session() as session:  # recovery elsewhere declared the job dead
        session.get(storage.models.Job, job.id).status = "interrupted"
    with pytest.raises(JobLostError):
        ctx.save_state({"step": 1})
    assert ctx.should_stop() and metrics.count_metrics(job.run_id) == 0
    assert runs.load_state(job.run_id) == {}


# ---------------------------------------------------------------- readers while a job writes


def test_twenty_readers_while_a_job_writes_thousands_of_points(db, lab_home) -> None:
    steps, dim = 600, 7  # 600 steps x (3 + 7) metrics = 6,000 points
    job = submit_job(KIND, {"steps": steps, "dim": dim, "batch": 256, "checkpoint_every": 20})
    errors: list[str] = []
    reads = [0] * 20
    done = threading.Event()

    def reader(i: int) -> None:
        seen = 0
        while not done.is_set():
            try:
                state = jobs.get_job(job.id)
                if i % 2:
                    metrics.metric_series(job.run_id, ["loss", "grad_norm"], since_step=seen // 2)
                else:
                    metrics.latest_metrics(job.run_id)
                seen = state.progress_current
                reads[i] += 1
            except OperationalError as error:
                errors.append(str(error))

    threads = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(20)]
    for t in threads:
        t.start()
    worker = start_worker("--exit-when-idle")
    try:
        wait_for(lambda: jobs.get_job(job.id).finished, 120, "the job to finish", interval=0.2)
    finally:
        done.set()
        for t in threads:
            t.join(10)
        stop_process(worker)
    finished = jobs.get_job(job.id)
    assert finished.status == "succeeded", finished.error_message
    assert errors == []
    assert min(reads) > 0
    assert metrics.count_metrics(job.run_id) == steps * (3 + dim) >= 5000
    assert metrics.metric_series(job.run_id, ["loss"])["loss"].steps == tuple(range(1, steps + 1))
