"""A job's buffered output (metrics, samples, resume state) written in one transaction.

Writing the state in the same transaction as the rows it describes means a kill between two flushes
leaves the run either before or after the batch, never with rows its resume state does not know about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from storage import metrics, samples
from storage.db import now, write_connection
from storage.models import Job, JobStatus, Metric, Run, Sample


def write_job_output(
    run_id: int,
    metric_rows: Sequence[Mapping[str, Any]] = (),
    sample_rows: Sequence[Mapping[str, Any]] = (),
    state: Mapping[str, Any] | None = None,
    job_id: int | None = None,
    pid: int | None = None,
) -> bool:
    """Write it all or nothing. With job_id and pid, write only while that process still runs that job
    (returns False otherwise): a process whose job was declared interrupted must not touch a resumed run."""
    if not metric_rows and not sample_rows and state is None:
        return True
    with write_connection() as conn:
        if job_id is not None and not owns_job(conn, job_id, pid):
            return False
        metrics.upsert_rows(conn, metric_rows)
        samples.upsert_rows(conn, sample_rows)
        if state is not None:
            conn.execute(update(Run).where(Run.id == run_id).values(state=dict(state), updated_at=now()))
    return True


def discard_after(run_id: int, step: int, job_id: int | None = None, pid: int | None = None) -> bool:
    """Delete the run's metric and sample rows with a step after `step`, in one transaction (a resumed
    attempt replays those steps). With job_id and pid, only while that process still runs that job."""
    with write_connection() as conn:
        if job_id is not None and not owns_job(conn, job_id, pid):
            return False
        conn.execute(delete(Metric).where(Metric.run_id == run_id, Metric.step > step))
        conn.execute(delete(Sample).where(Sample.run_id == run_id, Sample.step > step))
    return True


def owns_job(conn: Connection, job_id: int, pid: int | None) -> bool:
    """Inside a write transaction: is the job still running, in process `pid` when given?"""
    owner = conn.execute(select(Job.status, Job.pid).where(Job.id == job_id)).first()
    return owner is not None and owner.status == JobStatus.RUNNING and (pid is None or owner.pid == pid)
