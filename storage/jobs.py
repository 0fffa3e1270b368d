"""Jobs: the queue and life cycle of attempts (queued → running → succeeded | failed | cancelled | interrupted).

Every state change is a conditional UPDATE inside BEGIN IMMEDIATE, so two workers never claim the same job
and a late write from a process that lost its job (marked interrupted) changes nothing. The queue cap is
counted in the same transaction that inserts, so concurrent launches cannot all see room.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update

from lab.errors import LabError
from lab.paths import logs_dir
from storage import runs
from storage.db import now, read_session, to_record, write_session
from storage.models import ACTIVE_STATUSES, FINISHED_STATUSES, RESUMABLE_STATUSES, Job, JobStatus
from storage.refs import format_run_ref


@dataclass(frozen=True)
class JobRecord:
    id: int
    run_id: int
    kind: str
    status: str
    config: dict[str, Any]
    attempt: int
    previous_job_id: int | None
    pid: int | None
    worker_pid: int | None
    host: str | None
    heartbeat_at: float | None
    progress_current: int
    progress_total: int | None
    progress_message: str
    eta_seconds: float | None
    cancel_requested: bool
    cancel_requested_at: float | None
    error_message: str | None
    error_traceback: str | None
    exit_code: int | None
    result: dict[str, Any] | None
    log_path: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE_STATUSES


def hostname() -> str:
    return socket.gethostname()


def _job_or_error(session, job_id: int) -> Job:  # noqa: ANN001
    job = session.get(Job, job_id)
    if job is None:
        raise LabError(f"no job with id {job_id}", field="job_id")
    return job


@dataclass(frozen=True)
class NewJob:
    """A new run and its first job, for create_jobs. links: config field -> index of an earlier NewJob of the
    same call; the field becomes "run:<that job's run id>" (how a pipeline's later stages name earlier ones)."""

    kind: str
    config: Mapping[str, Any]
    name: str | None = None
    links: Mapping[str, int] | None = None


def _check_queue(session, adding: int, max_queued: int | None) -> None:  # noqa: ANN001
    """Refuse (LabError, field `queue`) adding `adding` jobs past max_queued. Inside the inserting BEGIN
    IMMEDIATE transaction, so concurrent launches cannot all see room."""
    if max_queued is None or adding <= 0:
        return
    waiting = int(session.scalar(select(func.count()).select_from(Job).where(Job.status == JobStatus.QUEUED)) or 0)
    if waiting + adding > max_queued:
        raise LabError(
            f"{waiting} job(s) already queued and this adds {adding}; the cap is {max_queued} (LAB_MAX_QUEUED). "
            "Wait for the queue to drain or cancel a queued job.",
            field="queue",
        )


def _add_job(
    session,  # noqa: ANN001
    run_id: int,
    kind: str,
    config: Mapping[str, Any],
    attempt: int,
    previous_job_id: int | None,
    claim_pid: int | None,
    t: float,
) -> Job:
    job = Job(
        run_id=run_id,
        kind=kind,
        status=str(JobStatus.RUNNING if claim_pid else JobStatus.QUEUED),
        config=dict(config),
        attempt=attempt,
        previous_job_id=previous_job_id,
        progress_current=0,
        progress_message="",
        cancel_requested=False,
        created_at=t,
    )
    if claim_pid:
        job.pid, job.host, job.heartbeat_at, job.started_at = claim_pid, hostname(), t, t
    session.add(job)
    session.flush()
    job.log_path = str(logs_dir() / f"job-{job.id}.log")
    return job


def create_jobs(new_jobs: Sequence[NewJob], max_queued: int | None = None) -> list[JobRecord]:
    """Queue new runs with their first jobs in one transaction: all of them or none. max_queued: refuse
    (LabError, field `queue`) when the queue would then hold more jobs than that; None: no cap."""
    t = now()
    with write_session() as session:
        _check_queue(session, len(new_jobs), max_queued)
        created: list[Job] = []
        for spec in new_jobs:
            config = dict(spec.config)
            for name, index in (spec.links or {}).items():
                if not 0 <= index < len(created):
                    raise ValueError(f"link {name!r} -> {index}: not an earlier job of this call")
                config[name] = format_run_ref(created[index].run_id)
            run = runs.new_run(session, spec.kind, spec.name or f"{spec.kind} {_stamp(t)}", config, JobStatus.QUEUED)
            created.append(_add_job(session, run.id, spec.kind, config, 1, None, None, t))
        return [to_record(JobRecord, job) for job in created]


def create_job(
    kind: str,
    config: Mapping[str, Any],
    name: str | None = None,
    run_id: int | None = None,
    previous_job_id: int | None = None,
    claim_pid: int | None = None,
    max_queued: int | None = None,
) -> JobRecord:
    """Queue a job (and a new run unless run_id is given). claim_pid: run it right away in that process (it
    does not wait in the queue, so max_queued does not apply); max_queued: as in create_jobs."""
    t = now()
    status = JobStatus.RUNNING if claim_pid else JobStatus.QUEUED
    with write_session() as session:
        if not claim_pid:
            _check_queue(session, 1, max_queued)
        if run_id is None:
            run = runs.new_run(session, kind, name or f"{kind} {_stamp(t)}", config, status)
            run_id, attempt = run.id, 1
        else:
            attempt = 1 + (session.scalar(select(func.max(Job.attempt)).where(Job.run_id == run_id)) or 0)
            runs.sync_status(session, run_id, status)
        job = _add_job(session, run_id, kind, config, attempt, previous_job_id, claim_pid, t)
        return to_record(JobRecord, job)


def _stamp(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


def create_resume_job(job_id: int, max_queued: int | None = None, claim_pid: int | None = None) -> JobRecord:
    """A new attempt of job_id's run with the same config; refused unless the job ended resumably.
    max_queued and claim_pid as in create_job."""
    t = now()
    with write_session() as session:
        old = _job_or_error(session, job_id)
        if old.status not in RESUMABLE_STATUSES:
            allowed = ", ".join(sorted(RESUMABLE_STATUSES))
            raise LabError(f"job {job_id} is {old.status}; only {allowed} jobs can be resumed", field="job_id")
        active = session.scalar(
            select(Job.id).where(Job.run_id == old.run_id, Job.status.in_([str(s) for s in ACTIVE_STATUSES])).limit(1)
        )
        if active is not None:
            raise LabError(f"run {old.run_id} already has an active job ({active})", field="job_id")
        later = session.scalar(select(func.max(Job.id)).where(Job.run_id == old.run_id))
        if later != old.id:
            raise LabError(f"job {job_id} is not the newest attempt of run {old.run_id}; resume job {later}", "job_id")
        if not claim_pid:
            _check_queue(session, 1, max_queued)
        attempt = 1 + (session.scalar(select(func.max(Job.attempt)).where(Job.run_id == old.run_id)) or 0)
        job = _add_job(session, old.run_id, old.kind, old.config, attempt, old.id, claim_pid, t)
        runs.sync_status(session, old.run_id, JobStatus.RUNNING if claim_pid else JobStatus.QUEUED)
        return to_record(JobRecord, job)


def get_job(job_id: int) -> JobRecord:
    with read_session() as session:
        return to_record(JobRecord, _job_or_error(session, job_id))


def list_jobs(status: str | None = None, run_id: int | None = None, limit: int = 100) -> list[JobRecord]:
    """Newest first."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if run_id is not None:
        query = query.where(Job.run_id == run_id)
    with read_session() as session:
        return [to_record(JobRecord, job) for job in session.scalars(query)]


def running_jobs() -> list[JobRecord]:
    return list_jobs(status=JobStatus.RUNNING, limit=10_000)


def status_counts() -> dict[str, int]:
    with read_session() as session:
        rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        return {status: count for status, count in rows}


def claim_next_job(worker_pid: int) -> JobRecord | None:
    """Take the oldest queued job for this worker, or None. Atomic across processes."""
    t = now()
    with write_session() as session:
        oldest = select(Job.id).where(Job.status == JobStatus.QUEUED).order_by(Job.id).limit(1).scalar_subquery()
        job_id = session.scalar(
            update(Job)
            .where(Job.id == oldest, Job.status == JobStatus.QUEUED)
            .values(
                status=str(JobStatus.RUNNING),
                worker_pid=worker_pid,
                pid=worker_pid,  # until the job's own process reports in; recovery checks this pid
                host=hostname(),
                heartbeat_at=t,
                started_at=t,
            )
            .returning(Job.id)
        )
        if job_id is None:
            return None
        job = session.get(Job, job_id)
        runs.sync_status(session, job.run_id, JobStatus.RUNNING)
        return to_record(JobRecord, job)


def attach_process(job_id: int, pid: int) -> JobRecord | None:
    """The job's process reports in; None when the job is no longer running (do not run it then)."""
    with write_session() as session:
        changed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
            .values(pid=pid, host=hostname(), heartbeat_at=now())
        ).rowcount
        if not changed:
            return None
        return to_record(JobRecord, session.get(Job, job_id))


@dataclass(frozen=True)
class Heartbeat:
    """What a running job learns from its heartbeat write."""

    owned: bool  # False: the job was marked finished/interrupted elsewhere; the process must stop writing
    cancel_requested: bool


def heartbeat(job_id: int, pid: int) -> Heartbeat:
    with write_session() as session:
        cancel = session.scalar(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.pid == pid)
            .values(heartbeat_at=now())
            .returning(Job.cancel_requested)
        )
        return Heartbeat(owned=cancel is not None, cancel_requested=bool(cancel))


def report_progress(
    job_id: int, pid: int, current: int, total: int | None, message: str, eta_seconds: float | None
) -> bool:
    """Store progress (also counts as a heartbeat); False when the process no longer owns the job."""
    with write_session() as session:
        changed = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.pid == pid)
            .values(
                progress_current=current,
                progress_total=total,
                progress_message=message[:2000],
                eta_seconds=eta_seconds,
                heartbeat_at=now(),
            )
        ).rowcount
        return bool(changed)


def cancel_requested(job_id: int) -> bool:
    with read_session() as session:
        return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def finish_job(
    job_id: int,
    status: str,
    error_message: str | None = None,
    error_traceback: str | None = None,
    result: Mapping[str, Any] | None = None,
    exit_code: int | None = None,
    pid: int | None = None,
) -> bool:
    """Move a running job to a final status; False if it was not running (or not run by `pid`, when given)."""
    if status not in FINISHED_STATUSES:
        raise ValueError(f"not a final status: {status}")
    with write_session() as session:
        conditions = [Job.id == job_id, Job.status == JobStatus.RUNNING]
        if pid is not None:
            conditions.append(Job.pid == pid)
        job_run = session.scalar(
            update(Job)
            .where(*conditions)
            .values(
                status=str(status),
                error_message=error_message,
                error_traceback=error_traceback,
                result=dict(result) if result is not None else None,
                exit_code=exit_code,
                finished_at=now(),
                eta_seconds=None,
            )
            .returning(Job.run_id)
        )
        if job_run is None:
            return False
        runs.sync_status(session, job_run, status)
        return True


def mark_interrupted(job_id: int, message: str, seen_heartbeat_at: float | None) -> bool:
    """Recovery: interrupt a running job whose heartbeat is still the one the caller judged stale."""
    with write_session() as session:
        conditions = [Job.id == job_id, Job.status == JobStatus.RUNNING]
        if seen_heartbeat_at is None:
            conditions.append(Job.heartbeat_at.is_(None))
        else:
            conditions.append(Job.heartbeat_at == seen_heartbeat_at)
        run_id = session.scalar(
            update(Job)
            .where(*conditions)
            .values(status=str(JobStatus.INTERRUPTED), error_message=message, finished_at=now(), eta_seconds=None)
            .returning(Job.run_id)
        )
        if run_id is None:
            return False
        runs.sync_status(session, run_id, JobStatus.INTERRUPTED)
        return True


def request_cancel(job_id: int) -> JobRecord:
    """Cancel: a queued job ends now; a running one gets the flag its ctx.should_stop() reads."""
    t = now()
    with write_session() as session:
        job = _job_or_error(session, job_id)
        if job.status == JobStatus.QUEUED:
            job.status, job.finished_at, job.cancel_requested, job.cancel_requested_at = "cancelled", t, True, t
            runs.sync_status(session, job.run_id, JobStatus.CANCELLED)
        elif job.status == JobStatus.RUNNING:
            if not job.cancel_requested:
                job.cancel_requested, job.cancel_requested_at = True, t
        else:
            raise LabError(
                f"job {job_id} already ended ({job.status}); only queued or running jobs can be cancelled", "job_id"
            )
        return to_record(JobRecord, job)
