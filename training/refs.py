"""What a job does with references before it runs: check at submit that a "run:<id>" names a run of the right kind
(or one a pipeline is about to create: planned_runs), and wait at start until every referenced run succeeded
(await_run_refs): how a pipeline chains dataset -> RM -> GRPO.

Resolving references to files and folders (resolve_dataset, resolve_checkpoint, resolve_model, read_rows, the
"run:<id>" vocabulary) is storage.refs', defined once there below evals/, and re-exported here for training/ and ui/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from lab.errors import LabError
from storage.models import RESUMABLE_STATUSES, JobStatus
from storage.refs import (  # noqa: F401  (re-exported: training/ and ui/ resolve references through this module)
    DATASET_PREFIX,
    MALFORMED_RUN_REF,
    ROW_SUFFIXES,
    RUN_PREFIX,
    checked_run_ref,
    dataset_id,
    format_run_ref,
    read_rows,
    resolve_checkpoint,
    resolve_dataset,
    resolve_model,
    run_checkpoint,
    run_dataset,
    run_ids_in,
    run_ref,
    write_rows,
)

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


def check_run_ref(ref: str, kind: str, field: str) -> None:
    """At submit time: the referenced run exists and is of `kind` (it may still be queued or running)."""
    from storage.runs import get_run

    planned = (_planned_runs.get() or {}).get((ref or "").strip())
    if planned is not None:
        if planned != kind:
            raise LabError(f"this pipeline's {planned} stage is not a {kind} run", field=field)
        return
    run_id = run_ref(ref)
    if run_id is None or run_id == MALFORMED_RUN_REF:
        raise LabError(f"expected '{RUN_PREFIX}<run id>', got {ref!r}", field=field)
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


def await_run_refs(refs: Iterable[tuple[str, str]], should_stop: Callable[[], bool]) -> bool:
    """Wait for every "run:<id>" among (ref, field) pairs to succeed; False if a stop was asked meanwhile."""
    for ref, field in refs:
        run_id = checked_run_ref(ref, field)
        if run_id is not None and not wait_for_run(run_id, field, should_stop):
            return False
    return True
