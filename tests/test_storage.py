"""Storage: migrations from empty, connection settings, round-trips per table, and concurrent writers."""

from __future__ import annotations

import math
import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

import storage
from lab.errors import LabError
from storage import checkpoints, datasets, evaluations, jobs, metrics, outputs, runs, samples, votes
from storage.db import dispose_engine, get_engine, read_connection, write_connection

TABLES = {"runs", "jobs", "metrics", "samples", "checkpoints", "datasets", "evaluations", "votes", "id_high_water"}


def _new_run(kind: str = "generate") -> jobs.JobRecord:
    return jobs.create_job(kind, {"x": 1}, name="test run")


# ---------------------------------------------------------------- schema and settings


def test_migration_from_empty_creates_every_table_at_head(lab_home: Path) -> None:
    assert not (lab_home / "lab.sqlite").exists()
    path = storage.init_db()
    assert path == lab_home / "lab.sqlite"
    with get_engine().connect() as conn:
        names = set(inspect(conn).get_table_names())
        version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    assert TABLES <= names
    assert version == "0002"
    dispose_engine()


def test_storage_creates_its_database_on_first_use_without_init_db(lab_home: Path) -> None:
    """No caller has to remember init_db(): the first read or write migrates a fresh $LAB_HOME to head."""
    dispose_engine()
    assert not (lab_home / "lab.sqlite").exists()
    assert runs.list_runs() == []
    job = jobs.create_job("generate", {"x": 1})
    assert jobs.get_job(job.id).status == "queued"
    with read_connection() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
    dispose_engine()


def test_migration_matches_the_orm_models(db: Path) -> None:
    """The released migration and models.py describe the same schema (autogenerate finds nothing to do)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from storage.models import Base

    with get_engine().connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_init_db_is_idempotent_and_keeps_data(db: Path) -> None:
    job = _new_run()
    dispose_engine()  # a fresh process-like state: init runs the upgrade check again
    storage.init_db()
    storage.init_db()
    assert jobs.get_job(job.id).config == {"x": 1}


def test_every_connection_has_wal_busy_timeout_and_foreign_keys(db: Path) -> None:
    with get_engine().connect() as first, get_engine().connect() as second:
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_foreign_keys_are_enforced_and_runs_cascade(db: Path) -> None:
    with pytest.raises(IntegrityError):
        metrics.log_metrics(run_id=999, step=1, values={"loss": 1.0})
    job = _new_run()
    metrics.log_metrics(job.run_id, 1, {"loss": 1.0})
    samples.add_samples(job.run_id, 1, [{"prompt": "p", "response": "r", "breakdown": {}}])
    jobs.request_cancel(job.id)
    runs.delete_run(job.run_id)
    assert metrics.count_metrics(job.run_id) == 0
    assert samples.count_samples(job.run_id) == 0
    with pytest.raises(LabError):
        jobs.get_job(job.id)


def test_engine_is_rebuilt_when_lab_home_changes(db: Path, tmp_path: Path, monkeypatch) -> None:
    _new_run()
    other = tmp_path / "other_home"
    other.mkdir()
    monkeypatch.setenv("LAB_HOME", str(other))
    storage.init_db()
    assert jobs.list_jobs() == []
    dispose_engine()


# ---------------------------------------------------------------- round-trips


def test_runs_and_jobs_round_trip(db: Path) -> None:
    job = jobs.create_job("generate", {"batch_size": 4, "nested": {"a": [1, 2]}}, name="my run")
    run = runs.get_run(job.run_id)
    assert (run.kind, run.name, run.status, run.config) == ("generate", "my run", "queued", job.config)
    assert job.attempt == 1 and job.status == "queued" and job.log_path.endswith(f"job-{job.id}.log")
    assert runs.rename_run(run.id, "renamed").name == "renamed"
    assert [r.id for r in runs.list_runs(kind="generate")] == [run.id]
    with pytest.raises(LabError) as error:
        runs.get_run(12345)
    assert error.value.field == "run_id"


def test_job_life_cycle_and_run_status(db: Path) -> None:
    job = _new_run()
    claimed = jobs.claim_next_job(worker_pid=111)
    assert claimed.id == job.id and claimed.status == "running" and claimed.worker_pid == 111
    assert jobs.claim_next_job(worker_pid=111) is None
    assert jobs.attach_process(job.id, 222).pid == 222
    assert jobs.heartbeat(job.id, 222).owned
    assert not jobs.heartbeat(job.id, 333).owned  # another process may not beat for it
    assert jobs.report_progress(job.id, 222, 3, 10, "batch 3", 12.5)
    shown = jobs.get_job(job.id)
    assert (shown.progress_current, shown.progress_total, shown.eta_seconds) == (3, 10, 12.5)
    assert jobs.finish_job(job.id, "succeeded", result={"ok": 1}, pid=222)
    assert not jobs.finish_job(job.id, "failed")  # already final: nothing changes
    done = jobs.get_job(job.id)
    assert done.status == "succeeded" and done.result == {"ok": 1} and done.finished_at
    assert runs.get_run(job.run_id).status == "succeeded"
    assert jobs.status_counts() == {"succeeded": 1}


def test_cancel_and_resume_rules(db: Path) -> None:
    queued = _new_run()
    assert jobs.request_cancel(queued.id).status == "cancelled"
    with pytest.raises(LabError, match="already ended"):
        jobs.request_cancel(queued.id)
    second = jobs.create_resume_job(queued.id)
    assert (second.run_id, second.attempt, second.previous_job_id) == (queued.run_id, 2, queued.id)
    with pytest.raises(LabError, match="active job"):
        jobs.create_resume_job(queued.id)
    jobs.claim_next_job(1)
    running = jobs.request_cancel(second.id)
    assert running.status == "running" and running.cancel_requested and running.cancel_requested_at
    with pytest.raises(LabError, match="only"):
        jobs.create_resume_job(second.id)
    jobs.finish_job(second.id, "cancelled")
    with pytest.raises(LabError, match="not the newest attempt"):
        jobs.create_resume_job(queued.id)


def test_metrics_round_trip_upsert_and_nan(db: Path) -> None:
    run_id = _new_run().run_id
    for step in range(1, 6):
        metrics.log_metrics(run_id, step, {"loss": 1.0 / step, "reward/mean": step / 10})
    metrics.log_metrics(run_id, 3, {"loss": 42.0, "kl": float("nan")})  # a replayed step overwrites
    series = metrics.metric_series(run_id)
    assert sorted(series) == ["kl", "loss", "reward/mean"]
    assert series["loss"].steps == (1, 2, 3, 4, 5)
    assert series["loss"].values[2] == 42.0
    assert series["kl"].values == (None,)
    assert metrics.metric_names(run_id) == ["kl", "loss", "reward/mean"]
    assert metrics.latest_metrics(run_id)["loss"] == (5, pytest.approx(0.2))
    assert metrics.last_metric_step(run_id) == 5
    assert metrics.metric_series(run_id, ["loss"], since_step=3)["loss"].steps == (4, 5)
    assert metrics.count_metrics(run_id) == 11
    with write_connection() as conn, pytest.raises(IntegrityError):
        conn.execute(
            text("INSERT INTO metrics (run_id, name, step, value, logged_at) VALUES (:r, 'loss', 1, 0, 0)"),
            {"r": run_id},
        )


def test_metric_series_downsampling_keeps_ends(db: Path) -> None:
    run_id = _new_run().run_id
    outputs.write_job_output(run_id, [r for s in range(1000) for r in metrics.metric_rows(run_id, s, {"a": s})])
    thin = metrics.metric_series(run_id, max_points=100)["a"]
    assert 100 <= len(thin.steps) <= 101
    assert thin.steps[0] == 0 and thin.steps[-1] == 999
    assert list(thin.values) == [float(s) for s in thin.steps]


def test_samples_round_trip_and_replay_overwrites(db: Path) -> None:
    job = _new_run()
    breakdown = {"reward": 0.5, "results": [{"id": "punctuation:no_comma", "passed": True}]}
    samples.add_samples(job.run_id, 1, [{"prompt": "p1", "response": "r1", "breakdown": breakdown, "reward": 0.5}])
    samples.add_samples(job.run_id, 1, [{"prompt": "p2", "response": "r2", "breakdown": {}, "reward": math.nan}])
    rows = samples.list_samples(job.run_id)
    assert [(s.step, s.idx, s.prompt, s.reward) for s in rows] == [(1, 0, "p1", 0.5), (1, 1, "p2", None)]
    assert rows[0].breakdown == breakdown
    replay = samples.sample_row(job.run_id, job.id, 1, 0, {"prompt": "p1", "response": "again", "breakdown": {}})
    outputs.write_job_output(job.run_id, sample_rows=[replay])
    assert samples.count_samples(job.run_id) == 2
    assert samples.list_samples(job.run_id, step=1)[0].response == "again"
    assert samples.sample_steps(job.run_id) == [1]
    assert samples.get_sample(rows[1].id).prompt == "p2"


def test_job_output_state_and_ownership(db: Path) -> None:
    job = _new_run()
    jobs.claim_next_job(1)
    jobs.attach_process(job.id, 50)
    rows = metrics.metric_rows(job.run_id, 1, {"loss": 1.0})
    assert outputs.write_job_output(job.run_id, rows, state={"next_batch": 1}, job_id=job.id, pid=50)
    assert runs.load_state(job.run_id) == {"next_batch": 1}
    # A process that no longer owns the job writes nothing at all.
    assert not outputs.write_job_output(job.run_id, rows, state={"next_batch": 9}, job_id=job.id, pid=51)
    assert runs.load_state(job.run_id) == {"next_batch": 1}


def test_checkpoints_datasets_evaluations_votes_round_trip(db: Path, tmp_path: Path) -> None:
    job = _new_run()
    folder = tmp_path / "ckpt-10"
    folder.mkdir()
    first = checkpoints.register_checkpoint(job.run_id, 10, folder, {"loss": 1.0}, job_id=job.id)
    again = checkpoints.register_checkpoint(job.run_id, 10, folder, {"loss": 0.5}, job_id=job.id)
    assert first == again and checkpoints.get_checkpoint(first).meta == {"loss": 0.5}
    checkpoints.register_checkpoint(job.run_id, 20, tmp_path / "gone", {}, job_id=job.id)
    assert checkpoints.last_checkpoint(job.run_id).step == 10  # the step-20 folder does not exist
    assert checkpoints.describe(first) == "test run @ step 10"
    with pytest.raises(LabError) as error:
        checkpoints.get_checkpoint(999)
    assert error.value.field == "checkpoint"

    d1 = datasets.register_dataset("curriculum", tmp_path / "a.jsonl", {"seed": 0}, run_id=job.run_id, num_rows=5)
    assert datasets.register_dataset("curriculum", tmp_path / "a.jsonl", run_id=job.run_id) == d1
    d2 = datasets.register_dataset("curriculum", tmp_path / "b.jsonl")
    assert datasets.get_dataset(d2).version == 2 and datasets.latest_dataset("curriculum").id == d2
    assert datasets.get_dataset(d1).label == "curriculum v1"

    e = evaluations.add_evaluation(job.run_id, "bundled", "heldout-if", {"prompt_loose": 0.4}, checkpoint_id=first)
    assert evaluations.get_evaluation(e).results == {"prompt_loose": 0.4}
    assert [x.id for x in evaluations.list_evaluations(checkpoint_id=first)] == [e]

    votes.add_vote("p", "base", "tuned", "ra", "rb", "b")
    votes.add_vote("p", "tuned", "base", "ra", "rb", "a")
    votes.add_vote("p", "base", "tuned", "ra", "rb", "tie")
    assert votes.tally("tuned", "base") == votes.Tally("tuned", "base", 2, 0, 1, 0)
    with pytest.raises(LabError) as error:
        votes.add_vote("p", "a", "b", "x", "y", "maybe")
    assert error.value.field == "choice"

    # Deleting the run takes its own dataset rows with it; a dataset from elsewhere stays.
    assert jobs.claim_next_job(1).id == job.id and jobs.finish_job(job.id, "succeeded")
    runs.delete_run(job.run_id)
    with pytest.raises(LabError):
        datasets.get_dataset(d1)
    assert datasets.get_dataset(d2).version == 2


# ---------------------------------------------------------------- concurrency across processes


def _init_in_process(home: str, results) -> None:  # noqa: ANN001
    os.environ["LAB_HOME"] = home
    try:
        storage.init_db()
        results.put("ok")
    except Exception as error:  # reported to the parent, which asserts
        results.put(repr(error))


def test_processes_racing_to_create_the_database(lab_home: Path) -> None:
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    procs = [spawn.Process(target=_init_in_process, args=(str(lab_home), results)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert sorted(results.get(timeout=5) for _ in procs) == ["ok"] * 3
    with read_connection() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    dispose_engine()


def _write_concurrently(home: str, run_id: int, job_id: int, tag: str, start, results) -> None:  # noqa: ANN001
    os.environ["LAB_HOME"] = home
    errors = []
    try:
        storage.init_db()
        start.wait()
        for step in range(300):
            # Small transactions of every kind a busy lab makes: metrics, samples, job updates, reads.
            metrics.log_metrics(run_id, step, {f"{tag}/loss": 1.0 / (step + 1), f"{tag}/acc": step / 300})
            if step % 10 == 0:
                samples.add_samples(run_id, step, [{"prompt": tag, "response": str(step), "breakdown": {}}])
            jobs.report_progress(job_id, 4242, step, 300, tag, None)
            metrics.latest_metrics(run_id)
    except Exception as error:
        errors.append(repr(error))
    results.put((tag, errors))


def test_two_processes_write_concurrently_without_lock_errors(db: Path, lab_home: Path) -> None:
    job = _new_run()
    jobs.claim_next_job(1)
    jobs.attach_process(job.id, 4242)
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    start = spawn.Barrier(2)  # both start writing at the same moment, after their imports
    procs = [
        spawn.Process(target=_write_concurrently, args=(str(lab_home), job.run_id, job.id, tag, start, results))
        for tag in ("a", "b")
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcome = dict(results.get(timeout=5) for _ in procs)
    assert outcome == {"a": [], "b": []}
    assert metrics.count_metrics(job.run_id) == 2 * 300 * 2
    assert samples.count_samples(job.run_id) == 2 * 30
    assert jobs.get_job(job.id).progress_current == 299


def test_alembics_own_command_line_still_works(lab_home: Path) -> None:
    """`alembic -c storage/alembic.ini ...` (how new migrations are written) must not migrate inside itself."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    for command in (["upgrade", "head"], ["current"]):
        done = subprocess.run(
            [sys.executable, "-m", "alembic", "-c", "storage/alembic.ini", *command],
            cwd=repo,
            env={**os.environ, "LAB_HOME": str(lab_home)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
    assert "0002 (head)" in done.stdout
