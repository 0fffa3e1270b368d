"""Seed tasks: the shipped training and held-out sets, and the user's own tasks from JSONL or CSV.

A seed task is an open request with no format demands of its own, so sampled constraints never fight it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lab.errors import LabError

DATA_DIR = Path(__file__).parent / "data"
SEED_FILE = DATA_DIR / "seed_tasks.jsonl"
HELDOUT_FILE = DATA_DIR / "heldout_tasks.jsonl"
TASK_KEYS = ("task", "prompt", "instruction")  # accepted names of the task column, first found wins


@dataclass(frozen=True)
class SeedTask:
    id: str
    task: str
    domain: str = "general"


def _parse(record: object, where: str, default_id: str) -> SeedTask:
    if not isinstance(record, dict):
        raise LabError(f"must be a JSON object with a 'task' field, got {type(record).__name__}", field=where)
    key = next((k for k in TASK_KEYS if k in record), None)
    if key is None:
        raise LabError("has no 'task' column (also accepted: 'prompt', 'instruction')", field=where)
    task = record[key]
    if not isinstance(task, str) or not task.strip():
        raise LabError(f"column '{key}' must be non-empty text, got {task!r}", field=where)
    task_id = record.get("id")
    task_id = default_id if task_id in (None, "") else str(task_id)
    domain = record.get("domain")
    return SeedTask(task_id, task.strip(), str(domain).strip() if domain not in (None, "") else "general")


def _read_jsonl(path: Path) -> list[SeedTask]:
    tasks = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise LabError(f"is not valid JSON ({e.msg} at column {e.colno})", field=where) from None
            tasks.append(_parse(record, where, f"{path.stem}-{number}"))
    return tasks


def _read_csv(path: Path) -> list[SeedTask]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in reader.fieldnames or []]
        if not any(k in columns for k in TASK_KEYS):
            raise LabError(f"header {columns} has no 'task' column (also accepted: 'prompt', 'instruction')",
                           field=f"{path.name} line 1")  # fmt: skip
        tasks = []
        for row in reader:
            record = {(k or "").strip(): v for k, v in row.items()}
            where = f"{path.name} line {reader.line_num}"
            tasks.append(_parse(record, where, f"{path.stem}-{reader.line_num}"))
        return tasks


def _check_unique(tasks: list[SeedTask], path: Path) -> list[SeedTask]:
    seen: set[str] = set()
    for t in tasks:
        if t.id in seen:
            raise LabError(f"id {t.id!r} appears more than once", field=f"{path.name} id")
        seen.add(t.id)
    return tasks


def load_user_tasks(path: str | Path) -> list[SeedTask]:
    """Tasks from a .jsonl (one object per line) or .csv (header row) file with a 'task' column.

    Optional 'id' and 'domain'. Errors name the file and line: "tasks.csv line 4: column 'task' must be ...".
    """
    path = Path(path)
    if not path.is_file():
        raise LabError(f"no such file: {path}", field="path")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        tasks = _read_jsonl(path)
    elif suffix == ".csv":
        tasks = _read_csv(path)
    else:
        raise LabError(f"must end in .jsonl or .csv, got {path.name!r}", field="path")
    if not tasks:
        raise LabError(f"{path.name} contains no tasks", field="path")
    return _check_unique(tasks, path)


@cache
def _shipped(path: Path) -> tuple[SeedTask, ...]:
    return tuple(load_user_tasks(path))


def load_seed_tasks() -> list[SeedTask]:
    """The shipped training seed tasks."""
    return list(_shipped(SEED_FILE))


def load_heldout_tasks() -> list[SeedTask]:
    """The shipped held-out seed tasks (disjoint from the training ones), for evaluation."""
    return list(_shipped(HELDOUT_FILE))
