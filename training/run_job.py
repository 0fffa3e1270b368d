"""Run one claimed job in this process and record how it ended: `python -m training.run_job JOB_ID`.

The worker starts this as a child process per job (stdout/stderr go to the job's log file); the CLI's
foreground `run` calls `execute` directly, inside `log_to` (the same log file). SIGTERM/SIGINT ask the job to
stop gracefully (it ends `interrupted`, resumable); the cancel flag makes it end `cancelled`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from lab.errors import LabError
from storage import jobs
from storage.models import JobStatus
from training import outcome
from training.context import JobLostError, StorageJobContext
from training.jobs import load_plugin_kinds
from training.registry import get_kind, parse_config

EXIT_LOST = 75  # the job row was taken away from this process (declared interrupted elsewhere)
RECORD_RETRY_S = (0.2, 0.5, 1.0, 2.0, 4.0)  # then the worker (or a later recovery) takes over from the file


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
        print(f"[job {ctx.job_id}] got {signal.Signals(signum).name}: saving what it has and stopping", flush=True)
        ctx.request_stop("interrupt")
        # A second Ctrl-C in a terminal means "now".
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return previous


def execute(job_id: int, exit_when_lost: bool = True) -> str:
    """Run a job that is already `running` (claimed by a worker, or created claimed by the CLI); return its
    final status. Errors inside the job end it `failed` with message and traceback; they are not raised."""
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
    if job.log_path:
        outcome.reserve(job.log_path)
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
        outcome.clear(job.log_path)
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
        message = outcome.describe_failure(error, ctx.failed_while(error))
        status, trace = JobStatus.FAILED, traceback.format_exc()
    finally:
        for sig, handler in previous_handlers.items():
            signal.signal(sig, handler)
        try:
            ctx.close()
        except JobLostError:
            pass
        except Exception as error:  # the job's own outcome matters more than a last flush failing
            _say(f"[job {job_id}] final flush failed: {error}", sys.stderr)
    if trace:
        _say(trace, sys.stderr)
    end = outcome.Outcome(str(status), message, trace, result, exit_code=0)
    recorded = record_end(job_id, end, job.log_path, pid)
    if recorded is None:
        _say(f"[job {job_id}] {status} but not recorded; left in {outcome.outcome_path(job.log_path)}")
        return str(status)
    final = status if recorded else jobs.get_job(job_id).status
    _say(f"[job {job_id}] {final}" + (f": {message}" if message else ""))
    return final


def _say(text: str, stream: TextIO | None = None) -> None:
    """print, except that a full disk under the log file cannot turn it into a crash before the end is saved."""
    try:
        print(text, file=stream or sys.stdout, flush=True)
    except (OSError, ValueError):
        pass


def record_end(job_id: int, end: outcome.Outcome, log_path: str | None, pid: int | None = None) -> bool | None:
    """finish_job with retries; the end goes to the outcome file first, so a process that never gets it into
    the database (disk full) still leaves it for the worker. True: recorded; False: the job was not ours to
    finish; None: not recorded."""
    written = outcome.write_outcome(log_path, end) if log_path else False
    for delay in (*RECORD_RETRY_S, None):
        try:
            recorded = jobs.finish_job(
                job_id, end.status, end.message, end.traceback, end.result, exit_code=end.exit_code, pid=pid
            )
        except Exception as error:  # noqa: BLE001 (disk full, I/O error, locked: try again, then hand over)
            _say(f"[job {job_id}] recording the end failed: {outcome.describe_failure(error)}")
            if delay is None:
                if not written:
                    _say(f"[job {job_id}] could not write {outcome.outcome_path(log_path or '')} either")
                return None
            time.sleep(delay)
            continue
        outcome.clear(log_path)
        return recorded
    return None


class _Tee:
    """A text stream that also appends to a log file (flushed per write, so a killed job's log is complete)."""

    def __init__(self, stream: TextIO, log: TextIO) -> None:
        self._stream = stream
        self._log: TextIO | None = log

    def write(self, text: str) -> int:
        if self._log is not None:
            try:
                self._log.write(text)
                self._log.flush()
            except (OSError, ValueError):  # a full disk must not end the job through its own prints
                pass
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def detach(self) -> None:
        self._log = None

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, ...
        return getattr(self._stream, name)


@contextmanager
def log_to(path: str | None) -> Iterator[None]:
    """Copy this process's stdout/stderr to the job's log file while a foreground job runs, so `logs` and
    `show` work for it as for worker jobs. Streams kept by others meanwhile (logging handlers) fall back to
    the terminal only afterwards."""
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", errors="replace") as log:
        saved = sys.stdout, sys.stderr
        tees = _Tee(sys.stdout, log), _Tee(sys.stderr, log)
        sys.stdout, sys.stderr = tees
        try:
            yield
        finally:
            for tee in tees:
                tee.detach()
            sys.stdout, sys.stderr = saved


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
    return outcome.EXIT_UNRECORDED if outcome.read_outcome(_log_path(args.job_id)) else 0


def _log_path(job_id: int) -> str:
    try:
        return jobs.get_job(job_id).log_path or ""
    except Exception:  # noqa: BLE001 (an unreadable database: fall back to the default place)
        from lab.paths import logs_dir

        return str(logs_dir() / f"job-{job_id}.log")


if __name__ == "__main__":
    sys.exit(main())
