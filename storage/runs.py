"""Runs: one experiment each, with its config, status (that of its newest job) and resume state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lab.errors import LabError
from storage.db import now, read_session, to_record, write_session
from storage.models import ACTIVE_STATUSES, FINISHED_STATUSES, Dataset, Job, Run


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: str
    name: str
    config: dict[str, Any]
    status: str
    state: dict[str, Any]
    created_at: float
    updated_at: float
    finished_at: float | None


def new_run(session: Session, kind: str, name: str, config: Mapping[str, Any], status: str) -> Run:
    """Add a run inside the caller's transaction (jobs.create_job makes the run and its first job together)."""
    t = now()
    run = Run(kind=kind, name=name, config=dict(config), status=status, state={}, created_at=t, updated_at=t)
    session.add(run)
    session.flush()
    return run


def sync_status(session: Session, run_id: int, status: str) -> None:
    """Give the run the status of its newest job, inside the caller's transaction."""
    run = session.get(Run, run_id)
    if run is None:
        return
    t = now()
    run.status = str(status)
    run.updated_at = t
    run.finished_at = t if status in FINISHED_STATUSES else None


def get_run(run_id: int) -> RunRecord:
    with read_session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LabError(f"no run with id {run_id}", field="run_id")
        return to_record(RunRecord, run)


def list_runs(kind: str | None = None, limit: int = 200) -> list[RunRecord]:
    """Newest first."""
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if kind:
        query = query.where(Run.kind == kind)
    with read_session() as session:
        return [to_record(RunRecord, run) for run in session.scalars(query)]


def rename_run(run_id: int, name: str) -> RunRecord:
    name = (name or "").strip()
    if not name:
        raise LabError("a run name must not be empty", field="name")
    with write_session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LabError(f"no run with id {run_id}", field="run_id")
        run.name = name[:200]
        run.updated_at = now()
        return to_record(RunRecord, run)


def load_state(run_id: int) -> dict[str, Any]:
    """The resume state the run's jobs saved (empty when none did)."""
    with read_session() as session:
        state = session.scalar(select(Run.state).where(Run.id == run_id))
        return dict(state or {})


def delete_run(run_id: int) -> None:
    """Delete a run and its jobs, metrics, samples, checkpoint, dataset and evaluation rows (files stay on disk)."""
    with write_session() as session:
        run = session.get(Run, run_id)
        if run is None:
            raise LabError(f"no run with id {run_id}", field="run_id")
        active = session.scalar(
            select(Job.id).where(Job.run_id == run_id, Job.status.in_([str(s) for s in ACTIVE_STATUSES])).limit(1)
        )
        if active is not None:
            raise LabError(f"run {run_id} still has an active job ({active}); cancel it first", field="run_id")
        # Datasets outlive a deleted run only when they came from elsewhere; a dataset run's own rows go with it.
        session.execute(delete(Dataset).where(Dataset.run_id == run_id))
        session.delete(run)
