"""Submitting, resuming and cancelling jobs: what the UI and the CLI call. Configs are checked here, so a bad
config is refused with a LabError naming the field and nothing is queued.

Extra job kinds (plug-ins, test kinds) are modules named in $LAB_JOB_MODULES (comma-separated) that call
training.registry.register_kind when imported.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lab.errors import LabError
from storage import jobs as job_store
from storage.jobs import JobRecord
from training.registry import JobKind, config_to_dict, get_kind, parse_config

PLUGIN_ENV = "LAB_JOB_MODULES"
DEFAULT_MAX_QUEUED = 6  # two full dataset → RM → GRPO pipelines waiting behind the running job


def max_queued() -> int:
    """LAB_MAX_QUEUED: how many jobs may wait in this instance's queue at once (default 6)."""
    raw = os.environ.get("LAB_MAX_QUEUED", "").strip()
    if not raw:
        return DEFAULT_MAX_QUEUED
    try:
        value = int(raw)
    except ValueError:
        raise LabError(f"must be a whole number >= 1, got {raw!r}", field="LAB_MAX_QUEUED") from None
    if value < 1:
        raise LabError(f"must be a whole number >= 1, got {value}", field="LAB_MAX_QUEUED")
    return value


def queue_cap(force: bool = False) -> int | None:
    """The cap storage enforces while inserting (None with force: the operator's CLI `--force`)."""
    return None if force else max_queued()


def load_plugin_kinds() -> None:
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGIN_ENV, "").split(","))):
        importlib.import_module(module)


def kind_for(name: str) -> JobKind:
    load_plugin_kinds()
    return get_kind(name)


def check_config(kind: str, values: Mapping[str, Any] | None) -> tuple[JobKind, dict[str, Any]]:
    """Validate values for a kind; return the kind and the full config (defaults filled in) as a dict."""
    job_kind = kind_for(kind)
    config = parse_config(job_kind.config_cls, values)
    return job_kind, config_to_dict(config)


def submit_job(
    kind: str, values: Mapping[str, Any] | None = None, name: str | None = None, force: bool = False
) -> JobRecord:
    """Queue a new run's first job for the worker; refused (field `queue`) when the queue is at LAB_MAX_QUEUED,
    counted and inserted in one transaction, unless force."""
    job_kind, config = check_config(kind, values)
    return job_store.create_job(job_kind.name, config, name=_clean_name(name), max_queued=queue_cap(force))


def resume_job(job_id: int, force: bool = False, foreground: bool = False) -> JobRecord:
    """Queue the next attempt of an interrupted, cancelled or failed job (or, foreground, run it here and
    return it finished); it continues from the run's saved state / last checkpoint. The config is checked
    again (a checkpoint it names may have been deleted). The queue cap applies as in submit_job."""
    old = job_store.get_job(job_id)
    check_config(old.kind, old.config)
    if foreground:
        return _run_here(job_store.create_resume_job(job_id, claim_pid=os.getpid()))
    return job_store.create_resume_job(job_id, max_queued=queue_cap(force))


def cancel_job(job_id: int) -> JobRecord:
    return job_store.request_cancel(job_id)


def run_in_foreground(kind: str, values: Mapping[str, Any] | None = None, name: str | None = None) -> JobRecord:
    """Create a job claimed by this process and run it here (the CLI's `run`): same checks, same code path
    as the worker, without the queue (so without its cap); output also goes to the job's log file."""
    job_kind, config = check_config(kind, values)
    return _run_here(job_store.create_job(job_kind.name, config, name=_clean_name(name), claim_pid=os.getpid()))


def _run_here(job: JobRecord, exit_when_lost: bool = True) -> JobRecord:
    """Run a claimed job in this process, its output also in the job's log; a stage of another job passes
    exit_when_lost=False (losing the stage's row must not end the process that runs the whole experiment)."""
    from training.run_job import execute, log_to

    with log_to(job.log_path):
        execute(job.id, exit_when_lost=exit_when_lost)
    return job_store.get_job(job.id)


def start_child(
    kind: str,
    values: Mapping[str, Any],
    name: str,
    should_stop: Callable[[], bool],
    started: Callable[[JobRecord], None] | None = None,
) -> JobRecord:
    """Run a job here as one stage of another job (an experiment's): like run_in_foreground, and while it runs a
    stop asked of the parent (`should_stop`) cancels it. `started` sees the job before it runs."""
    job_kind, config = check_config(kind, values)
    job = job_store.create_job(job_kind.name, config, name=_clean_name(name), claim_pid=os.getpid())
    return _run_watched(job, should_stop, started)


def resume_child(
    job_id: int, should_stop: Callable[[], bool], started: Callable[[JobRecord], None] | None = None
) -> JobRecord:
    """The next attempt of a stage job that was stopped part-way, run here like start_child."""
    old = job_store.get_job(job_id)
    check_config(old.kind, old.config)
    return _run_watched(job_store.create_resume_job(job_id, claim_pid=os.getpid()), should_stop, started)


def _run_watched(
    job: JobRecord, should_stop: Callable[[], bool], started: Callable[[JobRecord], None] | None
) -> JobRecord:
    if started is not None:
        started(job)
    finished = threading.Event()

    def forward_stop() -> None:
        while not finished.wait(0.5):
            try:
                if should_stop():
                    job_store.request_cancel(job.id)
                    return
            except LabError:  # it ended meanwhile
                return
            except Exception as error:  # a locked or full database: say it and keep watching
                print(f"[job {job.id}] forwarding a stop failed, retrying: {error}", flush=True)

    watcher = threading.Thread(target=forward_stop, name=f"stop-forward-{job.id}", daemon=True)
    watcher.start()
    try:
        return _run_here(job, exit_when_lost=False)
    finally:
        finished.set()
        watcher.join()


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip()
    if not name:
        raise LabError("a run name must not be empty", field="name")
    return name[:200]
