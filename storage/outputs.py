"""A job's buffered output (metrics, samples, resume state) written in one transaction.

Writing the state in the same transaction as the rows it describes means a kill between two flushes
leaves the run either before or after the batch, never with rows its resume state does not know about.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, update

from storage import metrics, samples
from storage.db import now, write_connection
from storage.models import Job, JobStatus, Run


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
        if job_id is not None:
            owner = conn.execute(select(Job.status, Job.pid).where(Job.id == job_id)).first()
            if owner is None or owner.status != JobStatus.RUNNING or (pid is not None and owner.pid != pid):
                return False
        metrics.upsert_rows(conn, metric_rows)
        samples.upsert_rows(conn, sample_rows)
        if state is not None:
            conn.execute(update(Run).where(Run.id == run_id).values(state=dict(state), updated_at=now()))
    return True
