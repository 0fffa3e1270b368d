"""The Compose screen's logic without a browser: typed parameter slots, the constraint list, conflicts,
the prompt, curriculum and row, and the breakdown table/chart/aggregate of a pasted response."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import LabError
from ui import compose_state as cs
from ui.scoring import breakdown_figure, breakdown_rows, score_response, summary

TASK = "Write a short note about the sea."


def _list(*specs: tuple[str, dict]) -> list[dict]:
    items: list[dict] = []
    for type_id, params in specs:
        items, _ = cs.add_item(items, type_id, params, TASK)
    return items


def test_the_picker_lists_every_type_but_free_text_hard_first() -> None:
    from lab.constraints.registry import all_types

    choices = cs.type_choices()
    ids = [value for _, value in choices]
    assert set(ids) == {t.id for t in all_types()} - {"soft:free_text"}
    kinds = [label.split(" · ")[0] for label, _ in choices]
    assert kinds == sorted(kinds), "hard types come before soft ones"
    assert all(f"({value})" in label for label, value in choices), "labels name the id so search finds it"


def test_slots_match_each_types_parameters() -> None:
    from lab.constraints.registry import all_types

    for ctype in all_types():
        slots = cs.slots_for(ctype.id)
        expected = [p.name for p in ctype.params if not (ctype.id == cs.REPEAT_PROMPT and p.name == "prompt_to_repeat")]
        assert [s.name for s in slots] == expected, ctype.id
        assert len(slots) <= cs.MAX_SLOTS
        assert all(s.widget in cs.SLOT_KINDS for s in slots)
        assert cs.example_text(ctype.id)


def test_slot_values_become_typed_params() -> None:
    raw = [{"int": 3, "text": None, "choice": None, "bool": None}, {"choice": "less than"}]
    assert cs.read_params("length_constraints:number_sentences", raw) == {"num_sentences": 3, "relation": "less than"}
    assert cs.read_params("keywords:existence", [{"text": " ocean,  blue ,"}]) == {"keywords": ["ocean", "blue"]}
    assert cs.read_params("keywords:existence", [{"text": ""}]) == {"keywords": []}


def test_add_validates_and_names_the_field() -> None:
    with pytest.raises(LabError, match="keywords:existence.keywords"):
        cs.add_item([], "keywords:existence", {"keywords": []}, TASK)
    with pytest.raises(LabError, match="pick a constraint type"):
        cs.add_item([], "", {}, TASK)
    with pytest.raises(LabError, match="own words"):
        cs.add_free_text([], "  ", TASK)


def test_conflicts_are_flagged_not_refused() -> None:
    items, message = cs.add_item([], "change_case:english_lowercase", {}, TASK)
    assert "Conflict" not in message
    items, message = cs.add_item(items, "change_case:english_capital", {}, TASK)
    assert len(items) == 2 and "⚠ Conflict with #1" in message
    rows = cs.items_table(items, TASK)
    assert rows[0][4] == "" and "conflicts with" in rows[1][4]
    curriculum_rows, note = cs.curriculum_table(items, TASK)
    assert curriculum_rows == [] and note.startswith("No curriculum")


def test_move_remove_and_the_row_follow_the_list() -> None:
    items = _list(
        ("punctuation:no_comma", {}),
        ("keywords:existence", {"keywords": ["ocean"]}),
        ("length_constraints:number_words", {"num_words": 50, "relation": "less than"}),
    )
    items = cs.move_item(items, 3, -1)
    assert [i["type_id"] for i in items] == [
        "punctuation:no_comma",
        "length_constraints:number_words",
        "keywords:existence",
    ]
    assert cs.move_item(items, 1, -1) == items, "moving the first one up changes nothing"
    items = cs.remove_item(items, 1)
    with pytest.raises(LabError, match="between 1 and 2"):
        cs.remove_item(items, 5)
    row = cs.compose_row(items, TASK)
    assert row["instruction_id_list"] == ["length_constraints:number_words", "keywords:existence"]
    assert row["kwargs"] == [{"num_words": 50, "relation": "less than"}, {"keywords": ["ocean"]}]
    assert row["prompt"] == cs.preview(items, TASK) and row["prompt"].startswith(TASK)
    levels, _ = cs.curriculum_table(items, TASK)
    assert [level for level, _ in levels] == ["L1", "L2"]
    assert levels[1][1].startswith(levels[0][1]), "L2 extends L1"
    with pytest.raises(LabError, match="task"):
        cs.compose_row(items, "  ")


def test_repeat_prompt_follows_the_task() -> None:
    items = _list(("combination:repeat_prompt", {}))
    assert "prompt_to_repeat" not in items[0]["params"], "the task is not frozen into the list"
    row = cs.compose_row(items, "Name a fish.")
    assert row["kwargs"][0]["prompt_to_repeat"] == "Name a fish."


def test_breakdown_of_a_pasted_response() -> None:
    items = _list(
        ("punctuation:no_comma", {}),
        ("keywords:existence", {"keywords": ["ocean", "blue"]}),
        ("soft:tone", {"tone": "calm"}),
    )
    row = cs.compose_row(items, TASK)
    view = score_response(row, "<think>Plan, then write.</think>The ocean is calm today.")
    assert [r[3] for r in view.table] == ["pass (1.00)", "fail (0.00)", "not scored"]
    assert view.table[0][4] == "pass · pass" and view.table[2][4] == ""
    assert view.aggregate.startswith("reward 0.500") and "1 soft" in view.aggregate
    assert view.thinking == "Plan, then write." and view.answer == "The ocean is calm today."
    assert summary(view.breakdown) == "punctuation:no_comma ✓ | keywords:existence ✗ | soft:tone ?"
    fig = breakdown_figure(view.breakdown)
    assert list(fig.data[0].y) == [1.0, 0.0, 0.0] and list(fig.data[0].text) == ["pass", "fail", "not scored"]
    # Loose mode forgives markdown asterisks (IFEval's loose variants).
    loose_row = cs.compose_row(_list(("keywords:existence", {"keywords": ["blue"]})), TASK)
    assert score_response(loose_row, "*bl*ue sea", hard_mode="loose").table[0][3] == "pass (1.00)"
    assert score_response(loose_row, "*bl*ue sea", hard_mode="strict").table[0][3] == "fail (0.00)"


def test_a_soft_scorer_scores_soft_constraints() -> None:
    class Half:
        def score(self, pairs: list[tuple[str, str]]) -> list[float]:
            return [0.75 for _ in pairs]

    row = cs.compose_row(_list(("soft:tone", {"tone": "calm"})), TASK)
    view = score_response(row, "Calm words.", soft_scorer=Half())
    assert view.table[0][3] == "pass (0.75)" and view.aggregate.startswith("reward 0.750")


def test_math_rows_show_the_boxed_answer() -> None:
    rows = breakdown_rows({"results": [], "math": {"correct": False, "boxed": "41", "expected": "42"}})
    assert rows == [[1, "math (boxed answer)", "math", "fail (0.00)", "", "boxed '41', expected '42'"]]


def test_export_writes_the_row_as_one_jsonl_line(lab_home: Path) -> None:
    from ui.compose import on_export

    items = _list(("punctuation:no_comma", {}))
    pretty, path = on_export(items, TASK)
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and json.loads(lines[0]) == json.loads(pretty) == cs.compose_row(items, TASK)
