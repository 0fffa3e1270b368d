"""Task + constraints -> prompt; random conflict-free constraint sets; the incremental curriculum L1..Ln.

Rows are IFEval-compatible (`prompt, instruction_id_list, kwargs`) and carry what verl-if and our reward need:
`constraints` (the texts, parallel to the ids), `level`, `group_id`, `source`, and `task`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lab.constraints.base import FAMILIES, Kind
from lab.constraints.conflicts import find_conflict, type_conflicts
from lab.constraints.registry import all_types, get_type
from lab.constraints.soft import FREE_TEXT
from lab.errors import LabError

REPEAT_PROMPT = "combination:repeat_prompt"
# Sampling never picks these: free text needs the user's words.
_NEVER_SAMPLED = frozenset({FREE_TEXT})
# Families sampled unless `include` names types: IFBench's types stay out of training data by default, so they
# measure out-of-domain following (pass families=("ifeval", "ifbench", "soft") or include=[...] to use them).
DEFAULT_FAMILIES: tuple[str, ...] = ("ifeval", "soft")


@dataclass(frozen=True)
class Constraint:
    """One constraint instance: its type id, validated params and the instruction text shown to the model."""

    type_id: str
    params: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def kind(self) -> str:
        return get_type(self.type_id).kind


def make_constraint(
    type_id: str, params: Mapping[str, Any] | None = None, variant: int = 0, task: str | None = None
) -> Constraint:
    """Validate params and render the text (phrasing number `variant`); repeat_prompt repeats `task`."""
    ctype = get_type(type_id)
    given = dict(params or {})
    if type_id == REPEAT_PROMPT and task is not None:
        given["prompt_to_repeat"] = task
    values = ctype.validate(given)
    return Constraint(type_id, values, ctype.describe(values, variant=variant))


def compose_prompt(task: str, constraints: Sequence[Constraint]) -> str:
    """The task, a blank line, then the constraint texts in order (so L_k's prompt extends L_{k-1}'s)."""
    task = task.strip()
    if not task:
        raise LabError("the task text is empty", field="task")
    texts = [c.text.strip() for c in constraints if c.text.strip()]
    return task if not texts else task + "\n\n" + " ".join(texts)


def _candidate_ids(
    kind: Kind, include: Iterable[str] | None, exclude: Iterable[str], task: str | None, families: Iterable[str] | None
) -> list[str]:
    # Explicit families always filter; left out, they default to DEFAULT_FAMILIES unless `include` names the types.
    if families is None and include is None:
        families = DEFAULT_FAMILIES
    wanted = set(families) if families is not None else None
    allowed = {t.id for t in all_types(kind) if wanted is None or t.family in wanted}
    if include is not None:
        allowed &= set(include)
    skip = set(exclude) | _NEVER_SAMPLED
    if task is None:
        skip.add(REPEAT_PROMPT)  # it must repeat the task word for word
    return [
        t.id
        for t in all_types(kind)
        if t.id not in skip and t.id in allowed and (t.sample_fn is not None or not t.params)
    ]


def sample_constraints(
    rng: random.Random,
    n: int,
    soft_ratio: float = 0.6,
    task: str | None = None,
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    param_tries: int = 4,
    restarts: int = 50,
    families: Iterable[str] | None = None,
) -> list[Constraint]:
    """n constraints with no conflicting pair, each soft with probability `soft_ratio` (paper: 60 % soft).

    `include`/`exclude` restrict the type ids and `families` ("ifeval", "ifbench", "soft") the families; without
    either, IFEval's and soft types are used (DEFAULT_FAMILIES: IFBench's stay out-of-domain); `task` is needed
    for combination:repeat_prompt (else it is skipped).
    When one kind runs out of compatible types the other kind fills the slot; a dead end starts over (up to
    `restarts` times), after which LabError.
    """
    if not isinstance(n, int) or n < 1:
        raise LabError(f"must be a whole number >= 1, got {n!r}", field="n")
    if not 0.0 <= soft_ratio <= 1.0:
        raise LabError(f"must be between 0 and 1, got {soft_ratio!r}", field="soft_ratio")
    include = list(include) if include is not None else None
    if families is not None:
        families = tuple(families)
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            raise LabError(f"must be among {', '.join(FAMILIES)}, got {unknown[0]!r}", field="families")
    pools = {kind: _candidate_ids(kind, include, exclude, task, families) for kind in ("hard", "soft")}
    if not pools["hard"] and not pools["soft"]:
        raise LabError("no constraint types left to sample from; check include/exclude/families", field="include")
    # Greedy filling can paint itself into a corner (e.g. constrained_response first leaves nothing
    # compatible), so a failed attempt starts over; rng keeps the result deterministic for a seed.
    best = 0
    for _ in range(restarts):
        chosen = _fill(rng, n, soft_ratio, pools, task, param_tries)
        if len(chosen) == n:
            return chosen
        best = max(best, len(chosen))
    raise LabError(f"only {best} mutually compatible constraints could be found, {n} were asked for", field="n")


def _fill(
    rng: random.Random, n: int, soft_ratio: float, pools: Mapping[str, Sequence[str]], task: str | None, tries: int
) -> list[Constraint]:
    chosen: list[Constraint] = []
    for _ in range(n):
        first = "soft" if rng.random() < soft_ratio else "hard"
        picked = None
        for kind in (first, "hard" if first == "soft" else "soft"):
            picked = _pick(rng, pools[kind], chosen, task, tries)
            if picked is not None:
                break
        if picked is None:
            break
        chosen.append(picked)
    return chosen


def _pick(
    rng: random.Random, pool: Sequence[str], chosen: Sequence[Constraint], task: str | None, param_tries: int
) -> Constraint | None:
    items = [(c.type_id, c.params) for c in chosen]
    for type_id in rng.sample(list(pool), len(pool)):
        ctype = get_type(type_id)
        if any(it[0] in type_conflicts().get(type_id, ()) for it in items):
            continue  # a type-level clash: no parameters can fix it
        for _ in range(param_tries):
            params = ctype.sample_params(rng)
            candidate = make_constraint(type_id, params, variant=rng.randrange(len(ctype.phrasings)), task=task)
            if find_conflict([*items, (candidate.type_id, candidate.params)]) is None:
                return candidate
    return None


def constraint_from_row(type_id: str, params: Mapping[str, Any] | None, text: str | None = None) -> Constraint:
    """Rebuild a Constraint from a row entry (IFEval kwargs may hold nulls; the text defaults to phrasing 0)."""
    ctype = get_type(type_id)
    values = ctype.validate(params)
    return Constraint(type_id, values, text if text else ctype.describe(values))


def row_for(
    task: str,
    constraints: Sequence[Constraint],
    group_id: str,
    source: str,
    level: int | None = None,
) -> dict[str, Any]:
    """One dataset row (IFEval- and verl-if-compatible) for the task with exactly these constraints."""
    return {
        "prompt": compose_prompt(task, constraints),
        "instruction_id_list": [c.type_id for c in constraints],
        "kwargs": [dict(c.params) for c in constraints],
        "constraints": [c.text for c in constraints],
        "level": len(constraints) if level is None else level,
        "group_id": group_id,
        "source": source,
        "task": task.strip(),
    }


def curriculum(task: str, constraints: Sequence[Constraint], group_id: str, source: str) -> list[dict[str, Any]]:
    """The incremental curriculum: level k is the task with the first k constraints (k = 1..n)."""
    if not constraints:
        raise LabError("a curriculum needs at least one constraint", field="constraints")
    reason = find_conflict([(c.type_id, c.params) for c in constraints])
    if reason:
        raise LabError(f"the constraints contradict each other: {reason}", field="constraints")
    return [row_for(task, constraints[:k], group_id, source) for k in range(1, len(constraints) + 1)]
