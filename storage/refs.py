"""References to stored things, as job configs, the CLI and the screens write them, resolved to files and folders.

- a dataset (resolve_dataset): a stored dataset id ("7", or "dataset:7" as the generate job's prompts always
  took it), "run:<id>" (the newest dataset file that run registered), or a .jsonl/.parquet file path;
- a checkpoint (resolve_checkpoint): a stored checkpoint id ("12"), "run:<id>" (that run's newest checkpoint)
  or a folder path;
- a model (resolve_model): a checkpoint as above, or a spec lab.models loads ("bundled", a folder, a hub id).

The run reference "run:<id>" (RUN_PREFIX, run_ref, format_run_ref, run_ids_in) names the output of another stored
run, e.g. `--set grpo.dataset=run:7`; a pipeline's later stages name the earlier ones this way. It is defined here,
at the bottom, because every layer speaks it (storage writes it, evals expands it, training waits for it, the UI
follows it). Waiting for a referenced run and pipeline placeholders are training.refs' business.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lab.errors import LabError

RUN_PREFIX = "run:"
ROW_SUFFIXES = (".jsonl", ".parquet")
DATASET_PREFIX = "dataset:"  # "dataset:7" = stored dataset 7, as the generate job's prompts field spells it
MALFORMED_RUN_REF = -1  # run_ref() of "run:x": written as a run reference, but naming no run id


def run_ref(value: object) -> int | None:
    """The run id a "run:<id>" reference names (spaces around the id are fine: "run: 7" is 7).

    MALFORMED_RUN_REF (-1) for a string written as a run reference whose id is not a number ("run:x", a pipeline's
    "run:<grpo stage>" placeholder), so a caller can refuse it naming the field; None for anything else
    (other strings, numbers, None).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.startswith(RUN_PREFIX):
        return None
    number = text[len(RUN_PREFIX) :].strip()
    return int(number) if number.isascii() and number.isdigit() else MALFORMED_RUN_REF


def format_run_ref(run_id: int) -> str:
    """The reference to run `run_id`: "run:7"."""
    return f"{RUN_PREFIX}{int(run_id)}"


def run_ids_in(values: Iterable[object]) -> list[int]:
    """The runs that values (a job config's) name with well-formed run references, in order."""
    return [run_id for value in values if (run_id := run_ref(value)) is not None and run_id != MALFORMED_RUN_REF]


def _storage_id(ref: str) -> int | None:
    text = ref.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def dataset_id(ref: str) -> int | None:
    """The stored dataset id a reference names: "7" or "dataset:7"; else None."""
    text = (ref or "").strip()
    return _storage_id(text.removeprefix(DATASET_PREFIX)) if text else None


def checked_run_ref(ref: str, field: str) -> int | None:
    """run_ref(ref), refusing a malformed "run:..." naming `field`."""
    run_id = run_ref(ref)
    if run_id == MALFORMED_RUN_REF:
        raise LabError(f"expected '{RUN_PREFIX}<run id>', got {ref!r}", field=field)
    return run_id


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
    """A stored dataset id ("7" or "dataset:7"), "run:<id>" or a .jsonl/.parquet file path -> the file;
    LabError naming `field` otherwise."""
    text = (ref or "").strip()
    if not text:
        raise LabError("is required: a dataset id (see the dataset job) or a .jsonl/.parquet file", field=field)
    run_id = checked_run_ref(text, field)
    if run_id is not None:
        return run_dataset(run_id, field)
    stored = dataset_id(text)
    if stored is not None:
        from storage.datasets import get_dataset

        try:
            path = Path(get_dataset(stored).path)
        except LabError as error:
            raise LabError(f"no dataset with id {stored} ({error})", field=field) from None
        if not path.is_file():
            raise LabError(f"dataset {stored}'s file {str(path)!r} no longer exists", field=field)
    else:
        path = Path(text).expanduser()
    if not path.is_file():
        raise LabError(f"dataset file {str(path)!r} does not exist", field=field)
    if path.suffix not in ROW_SUFFIXES:
        raise LabError(f"dataset file must end in {' or '.join(ROW_SUFFIXES)}, got {path.name!r}", field=field)
    return path


def resolve_checkpoint(ref: str | int, field: str) -> Path:
    """A stored checkpoint id, "run:<id>" or a folder path -> the folder; LabError naming `field` otherwise."""
    text = str(ref if ref is not None else "").strip()
    run_id = checked_run_ref(text, field)
    if run_id is not None:
        return run_checkpoint(run_id, field)
    checkpoint_id = _storage_id(text)
    if checkpoint_id is not None:
        from storage.checkpoints import get_checkpoint

        try:
            path = Path(get_checkpoint(checkpoint_id).path)
        except LabError:
            raise LabError(f"no stored checkpoint with id {checkpoint_id}", field=field) from None
        if not path.is_dir():
            raise LabError(f"checkpoint {checkpoint_id}'s folder {str(path)!r} no longer exists", field=field)
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


def read_rows(path: Path, field: str = "dataset") -> list[dict[str, Any]]:
    """All rows of a .jsonl or .parquet dataset file (blank lines skipped); LabError naming `field` if unreadable."""
    path = Path(path).expanduser()
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    rows = []
    try:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise LabError(f"{path.name} line {number} is not JSON: {error}", field=field) from None
    except OSError as error:
        raise LabError(f"cannot read {path}: {error.strerror or error}", field=field) from None
    except UnicodeDecodeError as error:
        raise LabError(f"{path.name} is not UTF-8 text (byte {error.start})", field=field) from None
    return rows


def write_rows(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """JSONL with sorted keys (the same rows give the same bytes); written via a temp file, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(path)
