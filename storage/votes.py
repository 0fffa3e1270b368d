"""Votes: a person's preference between two models' responses to the same prompt."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from lab.errors import LabError
from storage.db import now, read_session, to_record, write_session
from storage.models import Vote

CHOICES = ("a", "b", "tie", "both_bad")


@dataclass(frozen=True)
class VoteRecord:
    id: int
    prompt: str
    model_a: str
    model_b: str
    response_a: str
    response_b: str
    choice: str
    sample_a_id: int | None
    sample_b_id: int | None
    meta: dict[str, Any]
    created_at: float


def add_vote(
    prompt: str,
    model_a: str,
    model_b: str,
    response_a: str,
    response_b: str,
    choice: str,
    sample_a_id: int | None = None,
    sample_b_id: int | None = None,
    meta: Mapping[str, Any] | None = None,
) -> int:
    if choice not in CHOICES:
        raise LabError(f"choice must be one of {', '.join(CHOICES)}, got {choice!r}", field="choice")
    with write_session() as session:
        vote = Vote(
            prompt=prompt,
            model_a=model_a,
            model_b=model_b,
            response_a=response_a,
            response_b=response_b,
            choice=choice,
            sample_a_id=sample_a_id,
            sample_b_id=sample_b_id,
            meta=dict(meta or {}),
            created_at=now(),
        )
        session.add(vote)
        session.flush()
        return vote.id


def list_votes(model: str | None = None, limit: int = 500) -> list[VoteRecord]:
    """Newest first; only votes involving `model` when given."""
    query = select(Vote).order_by(Vote.id.desc()).limit(limit)
    if model:
        query = query.where(or_(Vote.model_a == model, Vote.model_b == model))
    with read_session() as session:
        return [to_record(VoteRecord, v) for v in session.scalars(query)]


@dataclass(frozen=True)
class Tally:
    """Head-to-head record of `model` against `other` (order of a/b in the votes does not matter)."""

    model: str
    other: str
    wins: int
    losses: int
    ties: int
    both_bad: int


def tally(model: str, other: str) -> Tally:
    counts = {"win": 0, "loss": 0, "tie": 0, "both_bad": 0}
    with read_session() as session:
        rows = session.execute(
            select(Vote.model_a, Vote.choice, func.count())
            .where(
                or_(
                    (Vote.model_a == model) & (Vote.model_b == other), (Vote.model_a == other) & (Vote.model_b == model)
                )
            )
            .group_by(Vote.model_a, Vote.choice)
        ).all()
    for model_a, choice, count in rows:
        if choice in ("tie", "both_bad"):
            counts[choice] += count
        else:
            model_won = (choice == "a") == (model_a == model)
            counts["win" if model_won else "loss"] += count
    return Tally(model, other, counts["win"], counts["loss"], counts["tie"], counts["both_bad"])
