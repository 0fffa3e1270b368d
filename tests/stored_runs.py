"""Helpers for tests that need runs in storage without running jobs."""

from __future__ import annotations

from storage import jobs


def finished_job(kind: str, config: dict, name: str, status: str = "succeeded") -> jobs.JobRecord:
    """A job (and its run) created, claimed by a fake worker and finished with `status`."""
    job = jobs.create_job(kind, config, name=name)
    assert jobs.claim_next_job(worker_pid=999) is not None
    jobs.finish_job(job.id, status)
    return jobs.get_job(job.id)
