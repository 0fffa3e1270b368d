"""The job worker: `python -m training.worker [--concurrency N]`.

It claims queued jobs atomically, runs each in its own child process (`python -m training.run_job ID`, output
to the job's log file), turns a dead child into `interrupted`, enforces cancel with a hard kill after a grace
period, and on start marks `running` jobs whose process is gone or whose heartbeat is stale `interrupted`
(or records the end such a process left in logs/job-N.outcome.json when the database was full).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lab.paths import lab_home, logs_dir
from storage import jobs
from storage.jobs import JobRecord
from storage.models import JobStatus
from training import outcome

log = logging.getLogger("training.worker")

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def stale_after_s() -> float:
    """Heartbeat age after which a running job counts as dead (jobs beat every $LAB_HEARTBEAT_S, default 5 s)."""
    return _env_float("LAB_STALE_AFTER_S", 120.0)


# ---------------------------------------------------------------- crash recovery


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie (an unreaped dead child)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            # The state letter follows the parenthesised command name, which may itself hold spaces.
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def recover_jobs(
    stale_s: float | None = None, skip_pids: frozenset[int] = frozenset(), skip_jobs: frozenset[int] = frozenset()
) -> list[int]:
    """Mark `running` jobs interrupted when their process is gone (same host) or their heartbeat is older
    than stale_s, or record the end the process left in its outcome file. Returns the ids. The app calls this
    at start; the worker at start and periodically. A write that fails (disk full) is retried next time."""
    stale_s = stale_after_s() if stale_s is None else stale_s
    host = jobs.hostname()
    now = time.time()
    recovered = []
    for job in jobs.running_jobs():
        if job.pid in skip_pids or job.id in skip_jobs:
            continue
        try:
            if _recover(job, host, now, stale_s):
                recovered.append(job.id)
        except Exception:  # noqa: BLE001 (one unwritable end must not stop the others, nor the caller)
            log.exception("job %s: could not record its recovery; will retry", job.id)
    return recovered


def _recover(job: JobRecord, host: str, now: float, stale_s: float) -> bool:
    reason = None
    if job.host == host and job.pid is not None and not pid_alive(job.pid):
        reason = f"job process {job.pid} is gone (crash, kill or restart); resume to continue"
    elif job.heartbeat_at is None or now - job.heartbeat_at > stale_s:
        age = "never" if job.heartbeat_at is None else f"{now - job.heartbeat_at:.0f} s ago"
        reason = f"no heartbeat from process {job.pid} (last {age}); resume to continue"
    if reason is None:
        return False
    end = outcome.read_outcome(job.log_path)
    if end is not None:  # the process ended the job but could not record it (disk full): use its own words
        if record_outcome(job.id, end, job.log_path):
            log.warning("job %s %s (recorded from its outcome file): %s", job.id, end.status, end.message)
            return True
        return False
    if jobs.mark_interrupted(job.id, reason, job.heartbeat_at):
        outcome.clear(job.log_path)  # the space a killed process had set aside
        log.warning("job %s interrupted: %s", job.id, reason)
        return True
    return False


def record_outcome(job_id: int, end: outcome.Outcome, log_path: str | None) -> bool:
    """Finish a running job as `end` says and drop its outcome file; False if it was no longer running."""
    done = jobs.finish_job(job_id, end.status, end.message, end.traceback, end.result, exit_code=end.exit_code)
    outcome.clear(log_path)
    return done


# ---------------------------------------------------------------- child processes


def child_env() -> dict[str, str]:
    """Children must see the same $LAB_HOME (the default depends on the working directory) and our code."""
    env = dict(os.environ)
    env["LAB_HOME"] = str(lab_home())
    env["PYTHONUNBUFFERED"] = "1"
    paths = [str(PROJECT_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


@dataclass
class _Child:
    job: JobRecord
    process: subprocess.Popen
    force_killed_for_cancel: bool = False


@dataclass
class _PendingEnd:
    """A job end the database refused (disk full); retried with backoff until it is recorded."""

    job: JobRecord
    end: outcome.Outcome
    next_try: float
    delay: float


class Worker:
    """Runs up to `concurrency` jobs at once, each in a child process."""

    def __init__(
        self, concurrency: int = 1, poll_s: float = 0.5, grace_s: float | None = None, parent_pid: int | None = None
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.grace_s = _env_float("LAB_CANCEL_GRACE_S", 30.0) if grace_s is None else grace_s
        # Shorter than app.py's 15 s wait on the worker, so jobs get recorded `interrupted` before it gives up.
        self.shutdown_grace_s = _env_float("LAB_SHUTDOWN_GRACE_S", 10.0)
        self.parent_pid = parent_pid
        self.children: dict[int, _Child] = {}
        self.pending_ends: dict[int, _PendingEnd] = {}
        self.retry_max_s = _env_float("LAB_RECORD_RETRY_MAX_S", 60.0)
        self.stopping = threading.Event()
        self._last_sweep = 0.0

    def run(self, exit_when_idle: bool = False) -> None:
        recovered = recover_jobs()
        log.info("worker %s started (concurrency %s); recovered %s", os.getpid(), self.concurrency, recovered or "none")
        while not self.stopping.is_set():
            try:
                self.step()
                idle = not self.children and not self.pending_ends
                if exit_when_idle and idle and not jobs.list_jobs(status=JobStatus.QUEUED, limit=1):
                    break
            except Exception:  # a failed query (disk full, I/O error) must not end the worker; retry next poll
                log.exception("worker step failed")
            self.stopping.wait(self.poll_s)
        self.shutdown()

    def step(self) -> None:
        if self.parent_pid and os.getppid() != self.parent_pid:
            log.info("parent process %s is gone: shutting down", self.parent_pid)
            self.stopping.set()
        self._retry_pending_ends()
        self._reap()
        self._enforce_cancels()
        if time.monotonic() - self._last_sweep > 30:
            self._last_sweep = time.monotonic()
            mine = {os.getpid()} | {c.process.pid for c in self.children.values()}
            recover_jobs(skip_pids=frozenset(mine), skip_jobs=frozenset(self.pending_ends))
        while len(self.children) < self.concurrency and not self.stopping.is_set():
            job = jobs.claim_next_job(os.getpid())
            if job is None:
                break
            self._spawn(job)

    def _spawn(self, job: JobRecord) -> None:
        log_path = Path(job.log_path or logs_dir() / f"job-{job.id}.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "training.run_job", str(job.id), "--parent-pid", str(os.getpid())]
        try:
            with open(log_path, "ab") as log_file:  # the child keeps its own copy of the descriptor
                process = subprocess.Popen(
                    command,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=child_env(),
                    start_new_session=True,  # its own process group, so a hard kill takes its helpers too
                )
        except OSError as error:
            message = f"could not start the job process: {outcome.describe_failure(error, 'starting the job')}"
            self._finish(job, outcome.Outcome(str(JobStatus.FAILED), message))
            return
        log.info("job %s (%s) started as pid %s, log %s", job.id, job.kind, process.pid, log_path)
        self.children[job.id] = _Child(job, process)

    def _reap(self) -> None:
        for job_id, child in list(self.children.items()):
            code = child.process.poll()
            if code is None:
                continue
            del self.children[job_id]
            self._settle(child, code)

    def _settle(self, child: _Child, code: int) -> None:
        """Give a job whose process ended without recording an outcome the right final status."""
        left = outcome.read_outcome(child.job.log_path)
        if left is not None:  # the job's own account of its end, which it could not write to the database
            self._finish(child.job, outcome.Outcome(left.status, left.message, left.traceback, left.result, code))
            return
        if code == outcome.EXIT_UNRECORDED:
            status = JobStatus.FAILED
            message = f"the job process could not record its end (disk full or I/O error); see {child.job.log_path}"
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if child.force_killed_for_cancel:
                status, message = JobStatus.CANCELLED, f"killed after the {self.grace_s:.0f} s cancel grace period"
            else:
                status, message = JobStatus.INTERRUPTED, f"job process {child.process.pid} was killed by {name}"
        else:
            status = JobStatus.FAILED
            message = f"job process exited with code {code} without recording a result; see {child.job.log_path}"
        self._finish(child.job, outcome.Outcome(str(status), message, exit_code=code))

    def _finish(self, job: JobRecord, end: outcome.Outcome) -> None:
        """Record a job's end; when the database refuses (disk full), keep it pending and retry with backoff,
        with the end also in the outcome file so a later worker or recovery records it if this one stops."""
        try:
            recorded = record_outcome(job.id, end, job.log_path)
        except Exception as error:  # noqa: BLE001
            pending = self.pending_ends.get(job.id)
            delay = min(self.retry_max_s, pending.delay * 2 if pending else 1.0)
            if pending is None and job.log_path:
                outcome.write_outcome(job.log_path, end)
            self.pending_ends[job.id] = _PendingEnd(job, end, time.monotonic() + delay, delay)
            log.error("job %s: recording its end failed (%s); retrying in %.0f s", job.id, error, delay)
            return
        self.pending_ends.pop(job.id, None)
        if recorded:
            log.warning("job %s %s: %s", job.id, end.status, end.message)
        else:
            log.info("job %s ended (exit code %s)", job.id, end.exit_code)

    def _retry_pending_ends(self) -> None:
        now = time.monotonic()
        for pending in list(self.pending_ends.values()):
            if pending.next_try <= now:
                self._finish(pending.job, pending.end)

    def _enforce_cancels(self) -> None:
        now = time.time()
        for job_id, child in self.children.items():
            if child.force_killed_for_cancel:
                continue
            job = jobs.get_job(job_id)
            if job.cancel_requested and job.cancel_requested_at and now - job.cancel_requested_at > self.grace_s:
                log.warning("job %s ignored cancel for %.0f s: killing it", job_id, self.grace_s)
                child.force_killed_for_cancel = True
                _kill_group(child.process, signal.SIGKILL)

    def shutdown(self) -> None:
        """Stop children gracefully (they end `interrupted`, resumable); kill them after $LAB_SHUTDOWN_GRACE_S."""
        if not self.children:
            return
        log.info("stopping %s running job(s)", len(self.children))
        for child in self.children.values():
            _kill_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + self.shutdown_grace_s
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.1)
        for child in self.children.values():
            _kill_group(child.process, signal.SIGKILL)
        while self.children:
            self._reap()
            time.sleep(0.05)


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- starting a worker


def start_worker_process(concurrency: int | None = None) -> subprocess.Popen:
    """Start `python -m training.worker` as a child of this process (app.py does, unless LAB_NO_WORKER=1).
    It shuts down (interrupting its jobs, which stay resumable) when this process exits; its output goes to
    $LAB_HOME/logs/worker.log."""
    command = [sys.executable, "-m", "training.worker", "--exit-with-parent", str(os.getpid())]
    if concurrency:
        command += ["--concurrency", str(concurrency)]
    log_file = open(logs_dir() / "worker.log", "ab")  # noqa: SIM115 (the child holds it; we close our copy)
    try:
        return subprocess.Popen(
            command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env()
        )
    finally:
        log_file.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.worker", description=__doc__)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("LAB_WORKER_CONCURRENCY", "1")),
        help="jobs run at once (default 1, or $LAB_WORKER_CONCURRENCY)",
    )
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between queue checks")
    parser.add_argument("--grace", type=float, default=None, help="cancel grace period in s ($LAB_CANCEL_GRACE_S, 30)")
    parser.add_argument("--exit-when-idle", action="store_true", help="stop once the queue is empty")
    parser.add_argument("--exit-with-parent", type=int, metavar="PID", help="stop when process PID exits")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s", stream=sys.stdout)
    if args.concurrency < 1:
        print("error: --concurrency must be >= 1", file=sys.stderr)
        return 2
    worker = Worker(
        concurrency=args.concurrency, poll_s=args.poll, grace_s=args.grace, parent_pid=args.exit_with_parent
    )

    def stop(signum: int, _frame: object) -> None:
        log.info("got %s: shutting down", signal.Signals(signum).name)
        worker.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    worker.run(exit_when_idle=args.exit_when_idle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
