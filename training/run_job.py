"""Run one claimed job in this process and record how it ended: `python -m training.run_job JOB_ID`.

The worker starts this as a child process per job (stdout/stderr go to the job's log file); the CLI's
foreground `run` calls `execute` directly. SIGTERM/SIGINT ask the job to stop gracefully (it ends
`interrupted`, resumable); the cancel flag makes it end `cancelled`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading
import traceback
from typing import Any

from lab.errors import LabError
from storage import init_db, jobs
from storage.models import JobStatus
from training.context import JobLostError, StorageJobContext
from training.jobs import load_plugin_kinds
from training.registry import get_kind, parse_config

EXIT_LOST = 75  # the job row was taken away from this process (declared interrupted elsewhere)


def _json_safe(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return json.loads(json.dumps(dict(value), default=str))


def _install_stop_signals(ctx: StorageJobContext) -> dict[int, Any]:
    """Route SIGTERM/SIGINT to a graceful stop; return the previous handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def stop(signum: int, _frame: Any) -> None:
        print(f"[job {ctx.job_id}] got {signal.Signals(signum).name}: stopping after the current step", flush=True)
        ctx.request_stop("interrupt")
        # A second Ctrl-C in a terminal means "now".
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return previous


def execute(job_id: int, exit_when_lost: bool = True) -> str:
    """Run a job that is already `running` (claimed by a worker, or created claimed by the CLI); return its
    final status. Errors inside the job end it `failed` with message and traceback; they are not raised."""
    init_db()
    pid = os.getpid()
    job = jobs.attach_process(job_id, pid)
    if job is None:
        current = jobs.get_job(job_id)
        raise LabError(f"job {job_id} is {current.status}, not running; nothing to do", field="job_id")
    print(f"[job {job.id}] {job.kind}, run {job.run_id}, attempt {job.attempt}, pid {pid}", flush=True)

    def lost() -> None:
        if exit_when_lost:
            os._exit(EXIT_LOST)

    ctx = StorageJobContext(job, pid=pid, on_lost=lost)
    status, message, trace, result = JobStatus.SUCCEEDED, None, None, None
    previous_handlers: dict[int, Any] = {}
    try:
        load_plugin_kinds()
        kind = get_kind(job.kind)
        config = parse_config(kind.config_cls, job.config)
        previous_handlers = _install_stop_signals(ctx)
        ctx.start()
        result = _json_safe(kind.run(config, ctx))
        ctx.close()
        if ctx.stop_reason == "cancel":
            status, message = JobStatus.CANCELLED, "cancelled by request; results so far are kept"
        elif ctx.stop_reason == "interrupt":
            status, message = JobStatus.INTERRUPTED, "stopped by a signal; resume to continue"
    except JobLostError as error:
        print(f"[job {job_id}] {error}", flush=True)
        return jobs.get_job(job_id).status
    except KeyboardInterrupt:
        status, message, trace = (
            JobStatus.INTERRUPTED,
            "interrupted (Ctrl-C); resume to continue",
            traceback.format_exc(),
        )
    except LabError as error:
        status, message, trace = JobStatus.FAILED, str(error), traceback.format_exc()
    except BaseException as error:  # noqa: BLE001 (record any failure, including SystemExit from a job)
        status, message, trace = JobStatus.FAILED, f"{type(error).__name__}: {error}", traceback.format_exc()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        try:
            ctx.close()
        except JobLostError:
            pass
        except Exception as error:  # the job's own outcome matters more than a last flush failing
            print(f"[job {job_id}] final flush failed: {error}", file=sys.stderr, flush=True)
    if trace:
        print(trace, file=sys.stderr, flush=True)
    recorded = jobs.finish_job(job_id, status, message, trace, result, exit_code=0, pid=pid)
    final = status if recorded else jobs.get_job(job_id).status
    print(f"[job {job_id}] {final}" + (f": {message}" if message else ""), flush=True)
    return final


def _die_with_parent(parent_pid: int) -> None:
    """Linux: get SIGKILL when the worker dies, so a killed worker leaves no orphan job writing rows."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() != parent_pid:  # the worker died before prctl took effect
        os._exit(EXIT_LOST)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.run_job", description=__doc__)
    parser.add_argument("job_id", type=int)
    parser.add_argument("--parent-pid", type=int, help="die with this process (the worker)")
    args = parser.parse_args(argv)
    if args.parent_pid:
        _die_with_parent(args.parent_pid)
    try:
        execute(args.job_id)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
