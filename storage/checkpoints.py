"""Checkpoints: model folders under $LAB_HOME that a run wrote at a step (one per run and step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.dialects.sqlite import insert

from lab.errors import LabError
from storage.db import now, read_session, to_record, write_connection
from storage.models import Checkpoint, Run

_TABLE = Checkpoint.__table__


@dataclass(frozen=True)
class CheckpointRecord:
    id: int
    run_id: int
    job_id: int | None
    step: int
    path: str
    meta: dict[str, Any]
    created_at: float

    @property
    def exists(self) -> bool:
        return Path(self.path).exists()


def upsert(
    conn: Connection, run_id: int, step: int, path: Path | str, meta: Mapping[str, Any] | None, job_id: int | None
) -> int:
    """Insert or replace the run's checkpoint at `step` inside the caller's transaction; return its id."""
    stmt = insert(_TABLE).values(
        run_id=run_id, job_id=job_id, step=int(step), path=str(path), meta=dict(meta or {}), created_at=now()
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "step"],
        set_={c: stmt.excluded[c] for c in ("job_id", "path", "meta", "created_at")},
    ).returning(_TABLE.c.id)
    return int(conn.execute(stmt).scalar_one())


def register_checkpoint(
    run_id: int, step: int, path: Path | str, meta: Mapping[str, Any] | None = None, job_id: int | None = None
) -> int:
    with write_connection() as conn:
        return upsert(conn, run_id, step, path, meta, job_id)


def get_checkpoint(checkpoint_id: int) -> CheckpointRecord:
    with read_session() as session:
        checkpoint = session.get(Checkpoint, checkpoint_id)
        if checkpoint is None:
            raise LabError(f"no checkpoint with id {checkpoint_id}", field="checkpoint")
        return to_record(CheckpointRecord, checkpoint)


def list_checkpoints(run_id: int | None = None, limit: int = 500) -> list[CheckpointRecord]:
    """Newest first; all runs when run_id is None."""
    query = select(Checkpoint).order_by(Checkpoint.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(Checkpoint.run_id == run_id)
    with read_session() as session:
        return [to_record(CheckpointRecord, c) for c in session.scalars(query)]


def last_checkpoint(run_id: int) -> CheckpointRecord | None:
    """The run's checkpoint with the highest step whose folder still exists."""
    query = select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.step.desc())
    with read_session() as session:
        for checkpoint in session.scalars(query):
            record = to_record(CheckpointRecord, checkpoint)
            if record.exists:
                return record
    return None


def describe(checkpoint_id: int) -> str:
    """ "run name @ step N" for menus."""
    with read_session() as session:
        row = session.execute(
            select(Run.name, Checkpoint.step)
            .join(Run, Run.id == Checkpoint.run_id)
            .where(Checkpoint.id == checkpoint_id)
        ).first()
        if row is None:
            raise LabError(f"no checkpoint with id {checkpoint_id}", field="checkpoint")
        return f"{row[0]} @ step {row[1]}"


@dataclass(frozen=True)
class CheckpointInfo:
    """A stored checkpoint with what a menu or a chart needs to name it."""

    id: int
    run_id: int
    run_name: str
    run_kind: str
    step: int
    path: str


def checkpoint_infos(run_id: int | None = None, ids: Sequence[int] | None = None) -> list[CheckpointInfo]:
    """Checkpoints (of one run, or these ids, or all) with their run names, by run then step."""
    query = (
        select(Checkpoint.id, Checkpoint.run_id, Run.name, Run.kind, Checkpoint.step, Checkpoint.path)
        .join(Run, Run.id == Checkpoint.run_id)
        .order_by(Checkpoint.run_id, Checkpoint.step)
    )
    if run_id is not None:
        query = query.where(Checkpoint.run_id == run_id)
    if ids is not None:
        query = query.where(Checkpoint.id.in_([int(i) for i in ids]))
    with read_session() as session:
        return [CheckpointInfo(*row) for row in session.execute(query).all()]


def checkpoint_id_for_path(path: str) -> int | None:
    """The newest stored checkpoint whose folder is `path` (as registered, resolved), or None."""
    query = select(Checkpoint.id).where(Checkpoint.path == str(path)).order_by(Checkpoint.id.desc()).limit(1)
    with read_session() as session:
        return session.scalars(query).first()
