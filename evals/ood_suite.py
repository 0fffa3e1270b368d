"""The held-out out-of-domain suite `heldout-ood`: held-out seed tasks × 1–3 conflict-free IFBench constraints.

Deterministic (fixed seed, its own random stream) and offline; IFBench's types are never sampled by the default
training mix, and the tasks are the held-out ones, so no prompt of it is ever trained on. Load it by name with
`evals.suites.load_suite("heldout-ood")`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from evals.domains import OUT_OF_DOMAIN, family_of
from evals.suites import HELDOUT_OOD, OOD_PROMPTS, SUITE_SEED, EvalSuite, _rng, _row_item, _task_text
from lab.errors import LabError


def heldout_ood_suite(prompts: int = OOD_PROMPTS, seed: int = SUITE_SEED) -> EvalSuite:
    """Held-out seed tasks × 1–3 conflict-free IFBench constraints: out-of-domain for a policy trained on the
    default mix (IFEval's types + soft), which never samples IFBench's. Held-out tasks only, like heldout-if."""
    from lab.compose import row_for
    from lab.constraints.registry import all_types
    from lab.seeds import load_heldout_tasks

    tasks = [_task_text(t) for t in load_heldout_tasks()]
    include = [t.id for t in all_types("hard") if family_of(t.id) == "ifbench"]
    if not tasks or not include:
        raise LabError("no held-out seed tasks or no IFBench constraint types are available", field="suites")
    rng = _rng(seed, "ood")  # its own stream: heldout-if's prompts do not change when this suite does
    order = list(range(len(tasks)))
    rng.shuffle(order)
    anchors = rng.sample(include, len(include))
    items = []
    for i in range(prompts):
        task = tasks[order[i % len(order)]]
        # Every type leads prompts in turn, so each gets a per-type row (some fit no other type, so come alone).
        constraints = _with_anchor(rng, anchors[i % len(anchors)], rng.choice((1, 2, 3)), task, include)
        row = row_for(task, constraints, group_id=f"ood-{i}", source=HELDOUT_OOD)
        items.append(_row_item(f"ood-{i:04d}", "hard", row))
    return EvalSuite(
        name=HELDOUT_OOD,
        items=tuple(items),
        description=f"{prompts} held-out prompts with 1–3 IFBench constraints (out-of-domain), seed {seed}",
        meta={"seed": seed, "tasks": len(tasks), "types": len(include)},
        domain=OUT_OF_DOMAIN,
    )


def _with_anchor(rng: random.Random, anchor: str, size: int, task: str, include: Sequence[str]) -> list[Any]:
    """`size` conflict-free constraints of `include`, the first of type `anchor` (fewer when nothing fits it)."""
    from lab.compose import sample_constraints
    from lab.constraints.conflicts import find_conflict, type_conflicts

    first = sample_constraints(rng, 1, 0.0, task=task, include=[anchor], families=("ifbench",))
    others = [t for t in include if t != anchor and t not in type_conflicts().get(anchor, ())]
    for _ in range(20):
        if size < 2 or not others:
            return first
        try:
            rest = sample_constraints(rng, size - 1, 0.0, task=task, include=others, families=("ifbench",))
        except LabError:
            size -= 1  # the compatible types clash among themselves: ask for fewer
            continue
        chosen = first + rest
        if find_conflict([(c.type_id, c.params) for c in chosen]) is None:
            return chosen
    return first
