"""Resolve what a job config points at: a dataset or checkpoint by storage id, by path, or as "run:<id>"
(the output of another run, waited for at start: how a pipeline chains dataset -> RM -> GRPO), and row files.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage.models import RESUMABLE_STATUSES, JobStatus

ROW_SUFFIXES = (".jsonl", ".parquet")
RUN_PREFIX = "run:"
# While a pipeline is checked before anything is stored: "run:..." placeholders of its own stages -> their kind.
_planned_runs: ContextVar[Mapping[str, str] | None] = ContextVar("planned_runs", default=None)


@contextmanager
def planned_runs(planned: Mapping[str, str]) -> Iterator[None]:
    """Accept these placeholder references (ref -> run kind) in check_run_ref: runs a pipeline is about to
    create together with the config being checked."""
    token = _planned_runs.set(dict(planned))
    try:
        yield
    finally:
        _planned_runs.reset(token)


def _storage_id(ref: str) -> int | None:
    text = ref.strip()
    return int(text) if text.isdigit() else None


def run_ref(ref: str) -> int | None:
    """The run id of a "run:<id>" reference, else None."""
    text = (ref or "").strip()
    if not text.startswith(RUN_PREFIX):
        return None
    number = text[len(RUN_PREFIX) :].strip()
    return int(number) if number.isdigit() else -1


def check_run_ref(ref: str, kind: str, field: str) -> None:
    """At submit time: the referenced run exists and is of `kind` (it may still be queued or running)."""
    from storage.runs import get_run

    planned = (_planned_runs.get() or {}).get((ref or "").strip())
    if planned is not None:
        if planned != kind:
            raise LabError(f"this pipeline's {planned} stage is not a {kind} run", field=field)
        return
    run_id = run_ref(ref)
    if run_id is None or run_id < 0:
        raise LabError(f"expected 'run:<run id>', got {ref!r}", field=field)
    try:
        run = get_run(run_id)
    except LabError:
        raise LabError(f"no run with id {run_id}", field=field) from None
    if run.kind != kind:
        raise LabError(f"run {run_id} is a {run.kind} run; a {kind} run is needed here", field=field)


def wait_for_run(run_id: int, field: str, should_stop: Callable[[], bool], poll_s: float = 2.0) -> bool:
    """Block until run `run_id` succeeded (True) or we are asked to stop (False); LabError if it failed."""
    from storage.runs import get_run

    while True:
        status = get_run(run_id).status
        if status == JobStatus.SUCCEEDED:
            return True
        if status in RESUMABLE_STATUSES:
            raise LabError(f"run {run_id}, whose output this job needs, ended {status}", field=field)
        if should_stop():
            return False
        time.sleep(poll_s)


def run_dataset(run_id: int, field: str = "dataset") -> Path:
    """The newest dataset file run `run_id` registered."""
    from storage.datasets import list_datasets

    for record in list_datasets(limit=10_000):
        if record.run_id == run_id and Path(record.path).is_file():
            return Path(record.path)
    raise LabError(f"run {run_id} registered no dataset", field=field)


def run_checkpoint(run_id: int, field: str) -> Path:
    """The newest checkpoint folder of run `run_id` (its highest step)."""
    from storage.checkpoints import last_checkpoint

    record = last_checkpoint(run_id)
    if record is None:
        raise LabError(f"run {run_id} has no checkpoint", field=field)
    return Path(record.path)


def resolve_dataset(ref: str, field: str = "dataset") -> Path:
    """A dataset id from storage or a .jsonl/.parquet file path -> the file; LabError naming `field` otherwise."""
    text = (ref or "").strip()
    if not text:
        raise LabError("is required: a dataset id (see the dataset job) or a .jsonl/.parquet file", field=field)
    run_id = run_ref(text)
    if run_id is not None:
        return run_dataset(run_id, field)
    dataset_id = _storage_id(text)
    if dataset_id is not None:
        from storage.datasets import get_dataset

        try:
            path = Path(get_dataset(dataset_id).path)
        except LabError as error:
            raise LabError(f"no dataset with id {dataset_id} ({error})", field=field) from None
    else:
        path = Path(text).expanduser()
    if not path.is_file():
        raise LabError(f"dataset file {str(path)!r} does not exist", field=field)
    if path.suffix not in ROW_SUFFIXES:
        raise LabError(f"dataset file must end in {' or '.join(ROW_SUFFIXES)}, got {path.name!r}", field=field)
    return path


def resolve_checkpoint(ref: str, field: str) -> Path:
    """A checkpoint id from storage or a folder path -> the folder; LabError naming `field` otherwise."""
    text = (ref or "").strip()
    run_id = run_ref(text)
    if run_id is not None:
        return run_checkpoint(run_id, field)
    checkpoint_id = _storage_id(text)
    if checkpoint_id is not None:
        from storage.checkpoints import get_checkpoint

        try:
            path = Path(get_checkpoint(checkpoint_id).path)
        except LabError:
            raise LabError(f"no checkpoint with id {checkpoint_id}", field=field) from None
    else:
        path = Path(text).expanduser()
    if not path.is_dir():
        raise LabError(f"checkpoint folder {str(path)!r} does not exist; give a checkpoint id or a folder", field=field)
    return path


def resolve_model(ref: str, field: str = "model") -> str:
    """A model spec (bundled / folder / hub id) or a checkpoint id -> a spec lab.models can load."""
    from lab.models import resolve_model_spec

    text = (ref or "").strip()
    if _storage_id(text) is not None or run_ref(text) is not None:
        return str(resolve_checkpoint(text, field))
    try:
        resolve_model_spec(text)
    except LabError as error:
        raise LabError(str(error.args[0]), field=field) from None
    return text


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a .jsonl or .parquet dataset file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise LabError(f"{path.name} line {number} is not JSON: {error}", field="dataset") from None
    return rows


def write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """JSONL with sorted keys (the same rows give the same bytes); written via a temp file, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(path)


def await_run_refs(refs: Iterable[tuple[str, str]], should_stop: Callable[[], bool]) -> bool:
    """Wait for every "run:<id>" among (ref, field) pairs to succeed; False if a stop was asked meanwhile."""
    for ref, field in refs:
        run_id = run_ref(ref)
        if run_id is not None and not wait_for_run(run_id, field, should_stop):
            return False
    return True
