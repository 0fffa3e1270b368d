"""Evaluation look-ups storage.evaluations lacks: the result cache (by key inside the results JSON),
evaluations by model, an evaluation's stored samples, and checkpoints with their run names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from storage.db import read_session, to_record
from storage.evaluations import EvaluationRecord
from storage.models import Checkpoint, Evaluation, Run, Sample
from storage.samples import SampleRecord


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


def samples_at(run_id: int, step: int, limit: int = 100_000) -> list[SampleRecord]:
    """All samples of one (run, step), in index order: one evaluation's per-item responses."""
    query = select(Sample).where(Sample.run_id == run_id, Sample.step == step).order_by(Sample.idx).limit(limit)
    with read_session() as session:
        return [to_record(SampleRecord, s) for s in session.scalars(query)]


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
