"""Run and job ids are never reused after a delete, also in a database upgraded from revision 0001 with data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

import storage
from storage import jobs, metrics, runs
from storage.db import alembic_config, database_path, dispose_engine, read_connection


def _ended_run(kind: str = "generate") -> jobs.JobRecord:
    job = jobs.create_job(kind, {"x": 1})
    jobs.request_cancel(job.id)  # a queued job ends at once; a run without active jobs can be deleted
    return job


def test_ids_of_a_deleted_run_and_its_jobs_are_not_given_out_again(db: Path) -> None:
    kept = _ended_run()
    newest = _ended_run()
    resumed = jobs.create_resume_job(newest.id)
    jobs.request_cancel(resumed.id)
    runs.delete_run(newest.run_id)
    dispose_engine()  # as after a restart: nothing in memory remembers the old ids
    storage.init_db()
    fresh = jobs.create_job("generate", {})
    assert fresh.run_id == newest.run_id + 1 and fresh.id == resumed.id + 1
    assert [r.id for r in runs.list_runs()] == [fresh.run_id, kept.run_id]
    again = jobs.create_jobs([jobs.NewJob("dataset", {}), jobs.NewJob("grpo", {}, links={"dataset": 0})])
    assert [j.run_id for j in again] == [fresh.run_id + 1, fresh.run_id + 2]
    assert again[1].config == {"dataset": f"run:{fresh.run_id + 1}"}


def test_upgrade_from_0001_keeps_the_data_and_then_never_reuses_ids(lab_home: Path) -> None:
    from alembic import command

    # A database of revision 0001, written beside storage (whose engines would upgrade it to head on first use).
    old = create_engine(f"sqlite:///{database_path()}")
    with old.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    with old.begin() as conn:
        for run_id in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO runs (id, kind, name, config, status, state, created_at, updated_at, finished_at) "
                    "VALUES (:id, 'generate', :name, '{\"a\": 1}', 'succeeded', '{}', 1.0, 1.0, 2.0)"
                ),
                {"id": run_id, "name": f"old run {run_id}"},
            )
            conn.execute(
                text(
                    "INSERT INTO jobs (id, run_id, kind, status, config, attempt, progress_current, progress_message, "
                    "cancel_requested, created_at) VALUES (:id, :id, 'generate', 'succeeded', '{}', 1, 5, '', 0, 1.0)"
                ),
                {"id": run_id},
            )
            conn.execute(
                text("INSERT INTO metrics (run_id, name, step, value, logged_at) VALUES (:id, 'loss', 1, 0.5, 1.0)"),
                {"id": run_id},
            )
    old.dispose()
    dispose_engine()
    storage.init_db()
    with read_connection() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
        assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    assert [(r.id, r.name, r.config) for r in runs.list_runs()] == [(i, f"old run {i}", {"a": 1}) for i in (3, 2, 1)]
    assert [j.run_id for j in jobs.list_jobs()] == [3, 2, 1]
    assert metrics.metric_series(2, ["loss"])["loss"].values == (0.5,)
    runs.delete_run(3)
    new = jobs.create_job("generate", {})
    assert (new.run_id, new.id) == (4, 4)
    assert metrics.metric_series(2, ["loss"])["loss"].values == (0.5,), "the delete cascaded only into run 3"
    dispose_engine()
