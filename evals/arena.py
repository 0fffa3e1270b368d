"""Same prompt, same sampling seed, N checkpoints -> answers with their breakdowns side by side; blind mode
(two answers, names hidden until the vote) and votes A / B / tie / both bad, summarised per pair of models.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.errors import LabError


@dataclass(frozen=True)
class VoteTally:
    """Vote counts for one pair of checkpoints (A and B named after the reveal)."""

    a_label: str
    b_label: str
    a_wins: int
    b_wins: int
    ties: int
    both_bad: int


CHOICES = ("a", "b", "tie", "both_bad")


@dataclass(frozen=True)
class Answer:
    slot: str  # "A", "B", ...
    ref: str
    model: str  # what evaluations/votes store for this model
    label: str
    response: str
    breakdown: dict[str, Any]
    reward: float | None


@dataclass(frozen=True)
class SideBySide:
    """Answers of several models to one row. Keep it server-side: in blind mode it holds the hidden names."""

    id: str
    row: dict[str, Any]
    answers: tuple[Answer, ...]
    blind: bool
    sampling: dict[str, Any] = field(default_factory=dict)
    done: bool = True  # False while streaming: answers still growing, not scored yet (no vote)

    @property
    def prompt(self) -> str:
        return str(self.row["prompt"])

    def public(self) -> list[dict[str, Any]]:
        """What to show before the vote: in blind mode only the slot names ("Model A"), never the model."""
        return [
            {
                "slot": a.slot,
                "label": f"Model {a.slot}" if self.blind else a.label,
                "response": a.response,
                "breakdown": a.breakdown,
                "reward": a.reward,
            }
            for a in self.answers
        ]


def _row(prompt_or_row: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(prompt_or_row, str):
        row: dict[str, Any] = {"prompt": prompt_or_row, "instruction_id_list": [], "kwargs": [], "constraints": []}
    else:
        row = dict(prompt_or_row)
    if not str(row.get("prompt") or "").strip():
        raise LabError("the prompt is empty", field="prompt")
    return row


def side_by_side(
    prompt_or_row: str | Mapping[str, Any],
    refs: Sequence[str],
    *,
    seed: int = 0,
    temperature: float = 0.7,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    blind: bool = False,
    reward_model: str | None = None,
) -> SideBySide:
    """Generate one answer per model with the same seed and settings; score each with the row's constraints.

    A row is the dataset/IFEval shape (prompt, instruction_id_list, kwargs, constraints); a plain prompt has none.
    Blind mode needs exactly two models and shows them in a random order.
    """
    *_, last = stream_side_by_side(
        prompt_or_row,
        refs,
        seed=seed,
        temperature=temperature,
        top_p=top_p,
        max_new_tokens=max_new_tokens,
        blind=blind,
        reward_model=reward_model,
    )
    return last


def stream_side_by_side(
    prompt_or_row: str | Mapping[str, Any],
    refs: Sequence[str],
    *,
    seed: int = 0,
    temperature: float = 0.7,
    top_p: float = 0.95,
    max_new_tokens: int = 256,
    blind: bool = False,
    reward_model: str | None = None,
) -> Iterator[SideBySide]:
    """side_by_side as it happens: one model after another, a snapshot (done=False) per new piece of text,
    then the scored result (done=True). Closing the iterator stops the generation under way."""
    from evals.targets import is_registered_checkpoint, resolve_target
    from lab.models import check_seed, load_model, stream_generate
    from lab.reward import breakdown_batch

    row = _row(prompt_or_row)
    seed = check_seed(seed)
    if len(refs) < 1 or (blind and len(refs) != 2):
        raise LabError("blind mode compares exactly two models" if blind else "pick at least one model", "checkpoints")
    check_demo_refs(refs, reward_model)
    targets = [resolve_target(ref) for ref in refs]
    if blind:
        # Random order, so slot A says nothing about which model it is.
        targets = random.Random(uuid.uuid4().int).sample(targets, 2)
    sampling = {"seed": seed, "temperature": temperature, "top_p": top_p, "max_new_tokens": max_new_tokens}
    comparison_id = uuid.uuid4().hex
    responses = [""] * len(targets)

    def snapshot() -> SideBySide:
        answers = tuple(
            Answer(chr(ord("A") + i), t.ref, t.model, t.label, text, {}, None)
            for i, (t, text) in enumerate(zip(targets, responses, strict=True))
        )
        return SideBySide(comparison_id, row, answers, blind, sampling, done=False)

    for i, target in enumerate(targets):
        loaded = load_model(target.spec, is_registered=is_registered_checkpoint)
        # stream_generate refuses a prompt past the model's context (it would prefill for minutes) and caps
        # max_new_tokens to what the context leaves.
        for text in stream_generate(loaded, row["prompt"], max_new_tokens, temperature, top_p, seed):
            responses[i] = text
            yield snapshot()
    scorer = None
    if reward_model:
        from lab.rm_scorer import load_rm_scorer
        from storage.refs import resolve_checkpoint

        scorer = load_rm_scorer(resolve_checkpoint(reward_model, "reward_model"))
    results = breakdown_batch([row] * len(targets), responses, scorer, loose=True)
    answers = tuple(
        Answer(chr(ord("A") + i), t.ref, t.model, t.label, text, r.to_dict(), r.reward)
        for i, (t, text, r) in enumerate(zip(targets, responses, results, strict=True))
    )
    yield SideBySide(comparison_id, row, answers, blind, sampling)


def check_demo_refs(refs: Sequence[str], reward_model: str | None) -> None:
    """Read-only demo: only stored checkpoints (by id), the bundled model and folders lab.model_access allows."""
    from evals.targets import CHECKPOINT_PREFIX, is_registered_checkpoint
    from lab.model_access import check_demo_model

    named = [(str(ref), "checkpoints") for ref in refs] + ([(reward_model, "reward_model")] if reward_model else [])
    for ref, field_name in named:
        if not ref.strip().removeprefix(CHECKPOINT_PREFIX).isdigit():  # ids always name stored checkpoints
            check_demo_model(ref, is_registered_checkpoint, field=field_name)


@dataclass(frozen=True)
class VoteResult:
    vote_id: int
    choice: str
    revealed: dict[str, str]  # slot -> label, shown once the vote is in


def record_vote(comparison: SideBySide, choice: str, slots: tuple[str, str] = ("A", "B")) -> VoteResult:
    """Store a vote between two answers (a = the first slot better, b = the second, tie, both_bad); reveal names."""
    from storage.votes import add_vote

    if choice not in CHOICES:
        raise LabError(f"must be one of {', '.join(CHOICES)}, got {choice!r}", field="choice")
    if not comparison.done:
        raise LabError("wait until both answers are written and scored", field="vote")
    by_slot = {a.slot: a for a in comparison.answers}
    if slots[0] == slots[1] or any(s not in by_slot for s in slots):
        raise LabError(f"pick two different answers among {', '.join(by_slot)}", field="slots")
    a, b = by_slot[slots[0]], by_slot[slots[1]]
    vote_id = add_vote(
        comparison.prompt,
        a.model,
        b.model,
        a.response,
        b.response,
        choice,
        meta={
            "comparison": comparison.id,
            "blind": comparison.blind,
            "label_a": a.label,
            "label_b": b.label,
            "sampling": comparison.sampling,
            "row": comparison.row,
        },
    )
    return VoteResult(vote_id, choice, {x.slot: x.label for x in comparison.answers})


@dataclass(frozen=True)
class PairSummary:
    """Votes between two models, whatever side each was shown on. `first` sorts before `second`."""

    first: str
    second: str
    first_label: str
    second_label: str
    first_wins: int
    second_wins: int
    ties: int
    both_bad: int

    @property
    def total(self) -> int:
        return self.first_wins + self.second_wins + self.ties + self.both_bad

    @property
    def first_win_rate(self) -> float | None:
        """Share of decisive-or-tied votes won by `first`, a tie counting half (both-bad votes left out)."""
        n = self.first_wins + self.second_wins + self.ties
        return (self.first_wins + 0.5 * self.ties) / n if n else None

    def tally(self) -> VoteTally:
        return VoteTally(
            self.first_label, self.second_label, self.first_wins, self.second_wins, self.ties, self.both_bad
        )


def vote_summary(limit: int = 100_000) -> list[PairSummary]:
    """Per unordered pair of models: wins each way, ties and both-bad votes (most-voted pairs first)."""
    from storage.votes import list_votes

    counts: dict[tuple[str, str], list[int]] = {}
    labels: dict[str, str] = {}
    for vote in list_votes(limit=limit):
        labels.setdefault(vote.model_a, str(vote.meta.get("label_a") or vote.model_a))
        labels.setdefault(vote.model_b, str(vote.meta.get("label_b") or vote.model_b))
        first, second = sorted((vote.model_a, vote.model_b))
        c = counts.setdefault((first, second), [0, 0, 0, 0])
        if vote.choice == "tie":
            c[2] += 1
        elif vote.choice == "both_bad":
            c[3] += 1
        else:
            winner = vote.model_a if vote.choice == "a" else vote.model_b
            c[0 if winner == first else 1] += 1
    out = [PairSummary(f, s, labels[f], labels[s], *c) for (f, s), c in counts.items()]
    return sorted(out, key=lambda p: (-p.total, p.first, p.second))
