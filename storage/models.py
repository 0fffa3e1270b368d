"""Typed ORM models of IF-Lab's tables. Times are Unix seconds (float, UTC); JSON columns hold plain dicts.

Migrations in storage/migrations/versions create these tables; change the schema with a new migration.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, str: String(255)}


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


FINISHED_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED})
RESUMABLE_STATUSES = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class IdHighWater(Base):
    """The highest id ever given to a row of `name`'s table, so ids of deleted runs and jobs are never reused
    (a `run:14` reference, an exported file name or a bookmark must not start meaning another run)."""

    __tablename__ = "id_high_water"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)


def _next_id(table: str) -> Any:
    """A primary-key default that takes max(high water, max(id)) + 1 and records it, in the insert's own
    transaction. (SQLite AUTOINCREMENT would need the tables rebuilt, and dropping `runs` with foreign keys on
    cascades into every child table; this needs no rebuild.)"""
    statement = text(
        f"INSERT INTO id_high_water (name, last_id) VALUES (:name, (SELECT coalesce(max(id), 0) FROM {table}) + 1) "
        f"ON CONFLICT (name) DO UPDATE SET last_id = max(last_id, (SELECT coalesce(max(id), 0) FROM {table})) + 1 "
        "RETURNING last_id"
    )

    def allocate(context: Any) -> int:
        return context.connection.execute(statement, {"name": table}).scalar_one()

    return allocate


class Run(Base):
    """One experiment (a dataset build, an RM fit, a GRPO training, an eval); jobs are its attempts."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=_next_id("runs"))
    kind: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # the status of the run's newest job
    # Resume state saved by the run's jobs (ctx.save_state); the next attempt starts from it.
    state: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float, index=True)
    updated_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)


class Job(Base):
    """One attempt at running a run; resuming creates a new job with attempt + 1 and previous_job_id set."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=_next_id("jobs"))
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]]
    attempt: Mapped[int] = mapped_column(Integer)
    previous_job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    pid: Mapped[int | None] = mapped_column(Integer)  # the process running the job
    worker_pid: Mapped[int | None] = mapped_column(Integer)  # the worker that claimed it
    host: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[float | None] = mapped_column(Float)
    progress_current: Mapped[int] = mapped_column(Integer)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_message: Mapped[str] = mapped_column(Text)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    cancel_requested: Mapped[bool] = mapped_column(Boolean)
    cancel_requested_at: Mapped[float | None] = mapped_column(Float)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log_path: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float)


class Metric(Base):
    """One scalar per (run, name, step). The key order serves "one curve of one run" with a range scan,
    and the table is WITHOUT ROWID so that scan reads the values straight from the key's b-tree."""

    __tablename__ = "metrics"
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)  # NULL for NaN (SQLite cannot store NaN)
    logged_at: Mapped[float] = mapped_column(Float)


class Sample(Base):
    """A prompt, the model's response and its reward breakdown, at a step of a run.

    (run, step, idx) is unique so a resumed attempt that replays a step overwrites instead of duplicating."""

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("run_id", "step", "idx", name="uq_samples_run_step_idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    prompt: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    breakdown: Mapped[dict[str, Any]]
    reward: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float)


class Checkpoint(Base):
    """A model checkpoint folder under $LAB_HOME written by a run at a step."""

    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_checkpoints_run_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), index=True)
    step: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float)


class Dataset(Base):
    """A versioned dataset file (JSONL rows) under $LAB_HOME; versions count up per name."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(Text)
    num_rows: Mapped[int | None] = mapped_column(Integer)
    meta: Mapped[dict[str, Any]]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[float] = mapped_column(Float)


class Evaluation(Base):
    """The results of one eval suite on one model (a stored checkpoint or a model spec)."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    checkpoint_id: Mapped[int | None] = mapped_column(ForeignKey("checkpoints.id", ondelete="SET NULL"), index=True)
    model: Mapped[str] = mapped_column(Text)
    suite: Mapped[str] = mapped_column(String(200))
    results: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float)


class Vote(Base):
    """A person's preference between two responses to the same prompt (Compare screen)."""

    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prompt: Mapped[str] = mapped_column(Text)
    model_a: Mapped[str] = mapped_column(Text)
    model_b: Mapped[str] = mapped_column(Text)
    response_a: Mapped[str] = mapped_column(Text)
    response_b: Mapped[str] = mapped_column(Text)
    choice: Mapped[str] = mapped_column(String(16))  # a | b | tie | both_bad
    sample_a_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id", ondelete="SET NULL"))
    sample_b_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any]]
    created_at: Mapped[float] = mapped_column(Float, index=True)
