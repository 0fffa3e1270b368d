"""The Compose screen's constraint list: typed parameter slots, add / move / remove, conflicts, prompt and row.

The list lives in a gr.State as plain dicts {"type_id", "params"}; constraints are rebuilt from it with
lab.compose so texts always follow the current task (repeat_prompt repeats it word for word).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lab.compose import REPEAT_PROMPT, Constraint, compose_prompt, curriculum, make_constraint, row_for
from lab.constraints.base import ConstraintType, Param
from lab.constraints.conflicts import find_conflict, pair_conflict
from lab.constraints.registry import all_types, get_type
from lab.constraints.soft import FREE_TEXT
from lab.errors import LabError

MAX_SLOTS = 5  # the most parameters any constraint type has (IFBench's count:keywords_multiple)
SLOT_KINDS = ("int", "text", "choice", "bool")  # one widget of each kind per slot; the param's kind picks which
ROW_SOURCE = "compose-ui"
ITEM_HEADERS = ["#", "kind", "constraint", "instruction", "conflict"]

Item = dict[str, Any]  # {"type_id": str, "params": dict}


def type_choices() -> list[tuple[str, str]]:
    """(label, type id) for the picker: hard types first, then soft, each by group and title (searchable)."""
    out = []
    for kind in ("hard", "soft"):
        types = sorted(all_types(kind), key=lambda t: (t.group, t.title))
        out += [(f"{kind} · {t.group} · {t.title} ({t.id})", t.id) for t in types if t.id != FREE_TEXT]
    return out


@dataclass(frozen=True)
class Slot:
    """How one parameter input should look: which widget kind, its label, help, choices and start value."""

    name: str
    widget: str  # one of SLOT_KINDS
    label: str
    info: str
    choices: tuple[str, ...] = ()
    value: Any = None


def _widget(param: Param) -> str:
    return {"int": "int", "choice": "choice", "bool": "bool"}.get(param.kind, "text")


def _start_values(ctype: ConstraintType) -> dict[str, Any]:
    # The catalogue's own sampler gives sensible defaults (the paper's ranges); seeded so they don't jump around.
    try:
        return ctype.sample_params(random.Random(0))
    except LabError:
        return {}


def slots_for(type_id: str) -> list[Slot]:
    """The parameter inputs of a type (repeat_prompt's text comes from the task, so it gets none)."""
    if not type_id:
        return []
    ctype = get_type(type_id)
    start = _start_values(ctype)
    slots = []
    for param in ctype.params:
        if type_id == REPEAT_PROMPT and param.name == "prompt_to_repeat":
            continue
        info = param.help or ""
        if param.kind == "int" and (param.low is not None or param.high is not None):
            info = f"{info} (whole number {param.low if param.low is not None else ''}..{param.high or ''})".strip()
        if param.kind == "str_list":
            info = f"{info} (comma-separated)".strip()
        value = start.get(param.name)
        if isinstance(value, list):
            value = ", ".join(value)
        if value is None:
            value = param.choices[0] if param.choices else ((param.low or 1) if param.kind == "int" else "")
        slots.append(Slot(param.name, _widget(param), param.name.replace("_", " "), info, param.choices, value))
    if len(slots) > MAX_SLOTS:
        raise LabError(f"{type_id} has {len(slots)} parameters; the form has room for {MAX_SLOTS}", field="type")
    return slots


def example_text(type_id: str) -> str:
    """The type's instruction text with its start values (repeat_prompt shows a stand-in for the task)."""
    ctype = get_type(type_id)
    values = _start_values(ctype)
    if type_id == REPEAT_PROMPT:
        values["prompt_to_repeat"] = "(your task)"
    if type_id == FREE_TEXT:
        values["text"] = "(your words)"
    return ctype.describe(values)


def read_params(type_id: str, raw: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Turn the slot widgets' values (one {widget kind: value} per slot, in slot order) into typed params."""
    params: dict[str, Any] = {}
    for slot, values in zip(slots_for(type_id), raw, strict=False):
        value = values.get(slot.widget)
        if slot.widget == "int":
            value = None if value in (None, "") else value
        elif slot.widget == "text":
            text = str(value or "").strip()
            param = next(p for p in get_type(type_id).params if p.name == slot.name)
            value = [w.strip() for w in text.split(",") if w.strip()] if param.kind == "str_list" else text or None
        params[slot.name] = value
    return params


def build_constraints(items: Sequence[Item], task: str) -> list[Constraint]:
    """The list as Constraints for this task (texts rendered with phrasing 0)."""
    return [make_constraint(item["type_id"], item.get("params"), variant=0, task=task or None) for item in items]


def _pairs(items: Sequence[Item], task: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [(c.type_id, c.params) for c in build_constraints(items, task)]


def conflict_notes(items: Sequence[Item], task: str) -> list[str]:
    """Per item: why it clashes with an earlier one ("" when it doesn't); the whole set's word budget last."""
    pairs = _pairs(items, task)
    notes = []
    for i, item in enumerate(pairs):
        reason = ""
        for j in range(i):
            found = pair_conflict(pairs[j], item)
            if found:
                reason = f"with #{j + 1}: {found}"
                break
        notes.append(reason)
    if pairs and not any(notes):
        overall = find_conflict(pairs)
        if overall:
            notes[-1] = overall
    return notes


def add_item(items: Sequence[Item], type_id: str, params: Mapping[str, Any], task: str) -> tuple[list[Item], str]:
    """Validate and append; a clash with the list is flagged in the message (and the table), not refused."""
    if not type_id:
        raise LabError("pick a constraint type first", field="type")
    constraint = make_constraint(type_id, params, task=task or None)
    stored = {k: v for k, v in constraint.params.items() if not (type_id == REPEAT_PROMPT and k == "prompt_to_repeat")}
    new = [*items, {"type_id": type_id, "params": stored}]
    note = conflict_notes(new, task)[-1]
    message = f"Added #{len(new)} {type_id}."
    if note:
        message += f" ⚠ Conflict {note}. Remove one of them or change a parameter."
    return new, message


def add_free_text(items: Sequence[Item], text: str, task: str) -> tuple[list[Item], str]:
    """A soft constraint in the user's own words (scored by a reward model, like every soft constraint)."""
    if not (text or "").strip():
        raise LabError("type the constraint in your own words first", field="free_text")
    return add_item(items, FREE_TEXT, {"text": text.strip()}, task)


def move_item(items: Sequence[Item], position: int, delta: int) -> list[Item]:
    """Move item number `position` (1-based) up (delta -1) or down (+1); out-of-range moves change nothing."""
    out = list(items)
    i, j = position - 1, position - 1 + delta
    if 0 <= i < len(out) and 0 <= j < len(out):
        out[i], out[j] = out[j], out[i]
    return out


def remove_item(items: Sequence[Item], position: int) -> list[Item]:
    out = list(items)
    if not 1 <= position <= len(out):
        raise LabError(f"pick a constraint number between 1 and {len(out)}", field="position")
    del out[position - 1]
    return out


def items_table(items: Sequence[Item], task: str) -> list[list[Any]]:
    constraints = build_constraints(items, task)
    notes = conflict_notes(items, task)
    return [
        [i + 1, get_type(c.type_id).kind, c.type_id, c.text, note]
        for i, (c, note) in enumerate(zip(constraints, notes, strict=True))
    ]


def compose_row(items: Sequence[Item], task: str) -> dict[str, Any]:
    """The dataset row (IFEval / curriculum shape) for the task with the whole list."""
    if not (task or "").strip():
        raise LabError("write a task (or pick a random seed task) first", field="task")
    return row_for(task, build_constraints(items, task), group_id="compose", source=ROW_SOURCE)


def preview(items: Sequence[Item], task: str) -> str:
    if not (task or "").strip():
        return ""
    return compose_prompt(task, build_constraints(items, task))


def curriculum_table(items: Sequence[Item], task: str) -> tuple[list[list[Any]], str]:
    """Rows [level, prompt] of L1..Ln, and a note (why there is no curriculum, or "")."""
    if not (task or "").strip() or not items:
        return [], "Add a task and at least one constraint to see the curriculum L1..Ln."
    try:
        rows = curriculum(task, build_constraints(items, task), group_id="compose", source=ROW_SOURCE)
    except LabError as error:
        return [], f"No curriculum: {error}"
    return [[f"L{r['level']}", r["prompt"]] for r in rows], f"{len(rows)} levels: L_k is the task with the first k."
