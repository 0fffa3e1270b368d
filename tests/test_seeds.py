"""Shipped seed tasks (size, variety, disjoint held-out set) and loading the user's own JSONL/CSV tasks."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.seeds import SeedTask, load_heldout_tasks, load_seed_tasks, load_user_tasks

# Words that would make a seed task impose a format of its own and fight sampled constraints.
FORMAT_WORDS = re.compile(
    r"\b(bullet|json|paragraphs?|title|lowercase|capital letters|in \d+ words|postscript)\b", re.I
)


def test_shipped_sets_are_large_varied_and_disjoint() -> None:
    seeds, heldout = load_seed_tasks(), load_heldout_tasks()
    assert len(seeds) >= 300 and len(heldout) >= 100
    texts = [t.task for t in seeds] + [t.task for t in heldout]
    assert len(set(texts)) == len(texts)  # no duplicates within or across sets
    norm = lambda s: re.sub(r"\W+", " ", s.lower()).strip()  # noqa: E731
    assert not {norm(t.task) for t in seeds} & {norm(t.task) for t in heldout}
    assert not {t.id for t in seeds} & {t.id for t in heldout}
    for tasks in (seeds, heldout):
        domains = Counter(t.domain for t in tasks)
        assert len(domains) >= 15 and max(domains.values()) < 0.1 * len(tasks)
        for expected in (
            "science",
            "cooking",
            "travel",
            "business",
            "history",
            "code explanation",
            "emails",
            "stories",
        ):
            assert expected in domains
    lengths = [len(t.task.split()) for t in seeds]
    assert min(lengths) <= 8 and max(lengths) >= 25
    assert not [t.task for t in seeds + heldout if FORMAT_WORDS.search(t.task)]


def test_load_jsonl_and_csv(tmp_path: Path) -> None:
    jsonl = tmp_path / "mine.jsonl"
    jsonl.write_text('{"task": "Explain tides.", "domain": "science"}\n\n{"id": "x7", "prompt": "Describe rain."}\n')
    assert load_user_tasks(jsonl) == [SeedTask("mine-1", "Explain tides.", "science"), SeedTask("x7", "Describe rain.")]
    csv_file = tmp_path / "mine.csv"
    csv_file.write_text('id,task,domain\na,"Explain tides, briefly.",science\nb,Describe rain.,\n', encoding="utf-8")
    assert load_user_tasks(csv_file) == [
        SeedTask("a", "Explain tides, briefly.", "science"),
        SeedTask("b", "Describe rain.", "general"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "field", "message"),
    [
        ("t.jsonl", '{"task": "ok"}\n{"task": oops}\n', "t.jsonl line 2", "not valid JSON"),
        ("t.jsonl", '{"task": "ok"}\n{"text": "no task"}\n', "t.jsonl line 2", "no 'task' column"),
        ("t.jsonl", '{"task": "   "}\n', "t.jsonl line 1", "column 'task' must be non-empty"),
        ("t.jsonl", '["a list"]\n', "t.jsonl line 1", "JSON object"),
        ("t.jsonl", '{"id": 1, "task": "a"}\n{"id": 1, "task": "b"}\n', "t.jsonl id", "more than once"),
        ("t.csv", "name,text\nx,y\n", "t.csv line 1", "no 'task' column"),
        ("t.csv", "id,task\n1,fine\n2,\n", "t.csv line 3", "column 'task' must be non-empty"),
        ("t.csv", "", "t.csv line 1", "no 'task' column"),
        ("t.jsonl", "\n\n", "path", "contains no tasks"),
        ("t.txt", "hello", "path", ".jsonl or .csv"),
    ],
)
def test_bad_files_name_the_row_and_column(tmp_path: Path, name: str, content: str, field: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabError, match=re.escape(message)) as err:
        load_user_tasks(path)
    assert err.value.field == field
    assert str(err.value).startswith(field)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LabError) as err:
        load_user_tasks(tmp_path / "nope.csv")
    assert err.value.field == "path"
