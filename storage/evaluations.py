"""Evaluations: one eval suite's results on one model (a stored checkpoint or a model spec)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from lab.errors import LabError
from storage.db import now, read_session, to_record, write_session
from storage.models import Evaluation


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    run_id: int
    checkpoint_id: int | None
    model: str
    suite: str
    results: dict[str, Any]
    created_at: float


def add_evaluation(
    run_id: int,
    model: str,
    suite: str,
    results: Mapping[str, Any],
    checkpoint_id: int | None = None,
    job_id: int | None = None,
    pid: int | None = None,
) -> int | None:
    """Store one evaluation and return its id. With job_id (and pid), only while that process still runs that
    job, checked in the same transaction: a job declared lost gets None and nothing is written."""
    from storage.outputs import owns_job

    with write_session() as session:
        if job_id is not None and not owns_job(session.connection(), job_id, pid):
            return None
        evaluation = Evaluation(
            run_id=run_id,
            checkpoint_id=checkpoint_id,
            model=str(model),
            suite=str(suite),
            results=dict(results),
            created_at=now(),
        )
        session.add(evaluation)
        session.flush()
        return evaluation.id


def get_evaluation(evaluation_id: int) -> EvaluationRecord:
    with read_session() as session:
        evaluation = session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise LabError(f"no evaluation with id {evaluation_id}", field="evaluation")
        return to_record(EvaluationRecord, evaluation)


def list_evaluations(
    run_id: int | None = None, checkpoint_id: int | None = None, suite: str | None = None, limit: int = 500
) -> list[EvaluationRecord]:
    """Newest first, filtered by any of run, checkpoint and suite."""
    query = select(Evaluation).order_by(Evaluation.id.desc()).limit(limit)
    if run_id is not None:
        query = query.where(Evaluation.run_id == run_id)
    if checkpoint_id is not None:
        query = query.where(Evaluation.checkpoint_id == checkpoint_id)
    if suite:
        query = query.where(Evaluation.suite == suite)
    with read_session() as session:
        return [to_record(EvaluationRecord, e) for e in session.scalars(query)]


def _by_results_key(key: str, value: str) -> EvaluationRecord | None:
    # The key lives in the results JSON so the cache needs no schema change; json_extract is SQLite's.
    query = (
        select(Evaluation)
        .where(func.json_extract(Evaluation.results, f"$.{key}") == value)
        .where(func.json_extract(Evaluation.results, "$.status") == "complete")
        .order_by(Evaluation.id.desc())
        .limit(1)
    )
    with read_session() as session:
        found = session.scalars(query).first()
        return to_record(EvaluationRecord, found) if found else None


def find_cached(cache_key: str) -> EvaluationRecord | None:
    """The newest complete evaluation with exactly this (model, suite, settings, scorer) key."""
    return _by_results_key("cache_key", cache_key)


def find_generations(generation_key: str) -> EvaluationRecord | None:
    """The newest complete evaluation whose responses were generated with this (model, suite, settings) key."""
    return _by_results_key("generation_key", generation_key)


def evaluations_for_model(model: str, suite: str | None = None, limit: int = 100) -> list[EvaluationRecord]:
    """Complete evaluations of a model spec or checkpoint path, newest first."""
    query = (
        select(Evaluation)
        .where(Evaluation.model == model)
        .where(func.json_extract(Evaluation.results, "$.status") == "complete")
        .order_by(Evaluation.id.desc())
        .limit(limit)
    )
    if suite:
        query = query.where(Evaluation.suite == suite)
    with read_session() as session:
        return [to_record(EvaluationRecord, e) for e in session.scalars(query)]


def evaluations_for_checkpoints(checkpoint_ids: Sequence[int], suite: str | None = None) -> list[EvaluationRecord]:
    """Complete evaluations of any of these stored checkpoints, newest first."""
    if not checkpoint_ids:
        return []
    query = (
        select(Evaluation)
        .where(Evaluation.checkpoint_id.in_([int(i) for i in checkpoint_ids]))
        .where(func.json_extract(Evaluation.results, "$.status") == "complete")
        .order_by(Evaluation.id.desc())
    )
    if suite:
        query = query.where(Evaluation.suite == suite)
    with read_session() as session:
        return [to_record(EvaluationRecord, e) for e in session.scalars(query)]
