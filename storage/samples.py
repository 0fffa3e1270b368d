"""Samples: prompt, response and reward breakdown at a step of a run (generations, training completions, evals)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.sqlite import insert

from storage.db import now, read_session, to_record, write_connection
from storage.models import Sample

_TABLE = Sample.__table__


@dataclass(frozen=True)
class SampleRecord:
    id: int
    run_id: int
    job_id: int | None
    step: int
    idx: int
    prompt: str
    response: str
    breakdown: dict[str, Any]
    reward: float | None
    meta: dict[str, Any]
    created_at: float


def sample_row(run_id: int, job_id: int | None, step: int, idx: int, sample: Mapping[str, Any]) -> dict[str, Any]:
    """A row for upsert_rows from a job's sample dict {"prompt", "response", "breakdown", "reward"?, "meta"?}."""
    reward = sample.get("reward")
    if reward is not None:
        reward = float(reward)
        reward = None if math.isnan(reward) else reward
    return {
        "run_id": run_id,
        "job_id": job_id,
        "step": int(step),
        "idx": int(idx),
        "prompt": str(sample.get("prompt", "")),
        "response": str(sample.get("response", "")),
        "breakdown": dict(sample.get("breakdown") or {}),
        "reward": reward,
        "meta": dict(sample.get("meta") or {}),
        "created_at": now(),
    }


def upsert_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or overwrite (run, step, idx) rows inside the caller's transaction."""
    if not rows:
        return
    stmt = insert(_TABLE)
    replace = ("job_id", "prompt", "response", "breakdown", "reward", "meta", "created_at")
    stmt = stmt.on_conflict_do_update(
        index_elements=["run_id", "step", "idx"], set_={c: stmt.excluded[c] for c in replace}
    )
    conn.execute(stmt, list(rows))


def add_samples(run_id: int, step: int, samples: Sequence[Mapping[str, Any]], job_id: int | None = None) -> None:
    """Store samples for one step now, numbered after those already stored for that step."""
    with write_connection() as conn:
        first = conn.execute(
            select(func.coalesce(func.max(_TABLE.c.idx) + 1, 0)).where(_TABLE.c.run_id == run_id, _TABLE.c.step == step)
        ).scalar_one()
        upsert_rows(conn, [sample_row(run_id, job_id, step, first + i, s) for i, s in enumerate(samples)])


def list_samples(
    run_id: int, step: int | None = None, limit: int = 100, offset: int = 0, newest_first: bool = False
) -> list[SampleRecord]:
    query = select(Sample).where(Sample.run_id == run_id)
    if step is not None:
        query = query.where(Sample.step == step)
    order = (Sample.step.desc(), Sample.idx.desc()) if newest_first else (Sample.step, Sample.idx)
    query = query.order_by(*order).limit(limit).offset(offset)
    with read_session() as session:
        return [to_record(SampleRecord, s) for s in session.scalars(query)]


def get_sample(sample_id: int) -> SampleRecord | None:
    with read_session() as session:
        sample = session.get(Sample, sample_id)
        return to_record(SampleRecord, sample) if sample else None


def count_samples(run_id: int) -> int:
    with read_session() as session:
        return int(session.scalar(select(func.count()).select_from(Sample).where(Sample.run_id == run_id)) or 0)


def sample_steps(run_id: int) -> list[int]:
    """Distinct steps that have samples, ascending."""
    with read_session() as session:
        return list(
            session.scalars(select(Sample.step).where(Sample.run_id == run_id).distinct().order_by(Sample.step))
        )


def samples_at(run_id: int, step: int, limit: int = 100_000) -> list[SampleRecord]:
    """All samples of one (run, step), in index order: one evaluation's per-item responses."""
    query = select(Sample).where(Sample.run_id == run_id, Sample.step == step).order_by(Sample.idx).limit(limit)
    with read_session() as session:
        return [to_record(SampleRecord, s) for s in session.scalars(query)]
