"""The storage-backed JobContext a job's run(config, ctx) receives: progress, batched metrics and samples,
checkpoints, resume state, heartbeats and the cancel flag. Implements training.registry.JobContext."""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.paths import confined, runs_dir
from storage import checkpoints, datasets, evaluations, jobs, metrics, outputs, runs
from storage import samples as sample_store
from storage.jobs import JobRecord


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class JobLostError(RuntimeError):
    """The job was marked finished or interrupted by someone else; this process must stop writing."""


class StorageJobContext:
    """One per running job. Thread-safe: the heartbeat thread flushes buffers the job thread fills.

    Buffered metric and sample rows reach the database when `flush_rows` rows are waiting, `flush_s` seconds
    passed, or at save_state / register_checkpoint / close. save_state writes state and rows in one
    transaction, so a resumed attempt starting from that state never finds rows "from the future" it would
    duplicate. A resumed attempt calls resume_from(step) before replaying, which drops the later rows of the
    killed attempt, so no step ends up with rows of two attempts.
    """

    def __init__(
        self,
        job: JobRecord,
        pid: int | None = None,
        heartbeat_s: float | None = None,
        flush_rows: int = 2000,
        flush_s: float = 2.0,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.job_id = job.id
        self.run_id = job.run_id
        self.attempt = job.attempt
        self.work_dir = Path(runs_dir()) / f"run-{job.run_id}"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.stop_reason: str | None = None  # "cancel" (user asked) or "interrupt" (signal / worker shutdown)
        self._pid = pid or os.getpid()
        self._state = runs.load_state(job.run_id)
        self._heartbeat_s = heartbeat_s if heartbeat_s is not None else _env_float("LAB_HEARTBEAT_S", 5.0)
        self._flush_rows = flush_rows
        self._flush_s = flush_s
        self._on_lost = on_lost
        self._lock = threading.RLock()
        self._metric_rows: list[dict[str, Any]] = []
        self._sample_rows: list[dict[str, Any]] = []
        self._sample_counts: dict[int, int] = defaultdict(int)
        self._last_flush = time.monotonic()
        self._stop = threading.Event()
        self._closed = threading.Event()
        self._lost = False
        self._last_cancel_poll = 0.0
        self._progress: tuple[int, int | None, str, float | None] | None = None
        self._progress_written = True
        self._progress_written_at = 0.0
        self._progress_origin: tuple[float, int] | None = None
        self._last_advance: tuple[float, int] | None = None
        self._unit_times: list[tuple[float, bool]] = []  # (seconds per unit, includes start-up) of recent advances
        self._eta_at = 0.0
        self._thread: threading.Thread | None = None
        self.activity: str | None = None  # what the job thread is doing now, for failure messages
        self._failed_while: tuple[BaseException, str] | None = None

    # ------------------------------------------------------------------ life cycle

    def start(self) -> StorageJobContext:
        self._thread = threading.Thread(target=self._beat, name=f"job-{self.job_id}-heartbeat", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop heartbeats and write everything still buffered (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()
        self._write_progress(force=True)

    def _beat(self) -> None:
        while not self._closed.wait(self._heartbeat_s):
            try:
                beat = jobs.heartbeat(self.job_id, self._pid)
                if not beat.owned:
                    self._mark_lost()
                    return
                if beat.cancel_requested:
                    self.request_stop("cancel")
                self._write_progress(force=False)
                self._count_down()
                if time.monotonic() - self._last_flush >= self._flush_s:
                    self.flush()
            except JobLostError:
                return
            except Exception as error:  # a transient DB problem must not kill the heartbeat for good
                print(f"[heartbeat] job {self.job_id}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)

    def _mark_lost(self) -> None:
        if self._lost:
            return
        self._lost = True
        self.request_stop("lost")
        print(f"[job {self.job_id}] no longer owns its job row; stopping without further writes", flush=True)
        if self._on_lost is not None:
            self._on_lost()

    def request_stop(self, reason: str) -> None:
        """Ask the job to stop; the first reason wins (a cancel stays a cancel even if a signal follows)."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self._stop.set()

    @contextmanager
    def doing(self, what: str) -> Iterator[None]:
        """Name the job's current activity ("saving checkpoint-10"); an error escaping it is described with it."""
        outer, self.activity = self.activity, what
        try:
            yield
        except BaseException as error:
            self._note_failure(error, what)
            raise
        finally:
            self.activity = outer

    def _note_failure(self, error: BaseException, what: str) -> None:
        if self._failed_while is None or self._failed_while[0] is not error:  # the innermost activity wins
            self._failed_while = (error, what)

    def failed_while(self, error: BaseException) -> str | None:
        """The activity `error` escaped from (see doing), else the one under way."""
        if self._failed_while is not None and self._failed_while[0] is error:
            return self._failed_while[1]
        return self.activity

    # ------------------------------------------------------------------ JobContext protocol

    def should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        # Poll the flag directly (a cheap indexed read, at most 4 times a second) so a cancel does not wait
        # for the next heartbeat.
        t = time.monotonic()
        if t - self._last_cancel_poll >= 0.25:
            self._last_cancel_poll = t
            if jobs.cancel_requested(self.job_id):
                self.request_stop("cancel")
        return self._stop.is_set()

    def progress(self, current: int, total: int, message: str = "") -> None:
        current = int(current)
        total_or_none = int(total) if total is not None else None
        t = time.monotonic()
        with self._lock:
            if self._progress_origin is None or current < self._progress_origin[1]:
                self._progress_origin = (t, current)
                self._unit_times.clear()
                self._last_advance = None
            last_t, last_n = self._last_advance or self._progress_origin
            if current > last_n:
                # Seconds per unit of this advance; the first advance after the origin carries the loading time.
                self._unit_times.append(((t - last_t) / (current - last_n), last_n == self._progress_origin[1]))
                self._unit_times[:] = self._unit_times[-STEADY_WINDOW:]
                self._last_advance = (t, current)
            elif self._last_advance is None:
                self._last_advance = self._progress_origin
            eta = None
            per_unit = steady_unit_time(self._unit_times)
            if total_or_none is not None and per_unit is not None:
                # Counted from the last advance, so a message-only update does not restart the countdown.
                eta = max(0.0, per_unit * max(0, total_or_none - current) - (t - self._last_advance[0]))
            self._progress = (current, total_or_none, str(message), eta)
            self._eta_at = t
            self._progress_written = False
        done = total_or_none is not None and current >= total_or_none
        self._write_progress(force=done)

    def _count_down(self) -> None:
        """On each heartbeat: the stored ETA goes down by the time since it was computed (the UI reads ETA minus
        the time since the heartbeat), so it counts down between progress updates instead of standing still."""
        with self._lock:
            if self._progress is None or self._progress[3] is None:
                return
            t = time.monotonic()
            current, total, message, eta = self._progress
            self._progress = (current, total, message, max(0.0, eta - (t - self._eta_at)))
            self._eta_at = t
            self._progress_written = False
        self._write_progress(force=True)

    def _write_progress(self, force: bool) -> None:
        with self._lock:
            if self._progress is None or self._progress_written or self._lost:
                return
            if not force and time.monotonic() - self._progress_written_at < 0.5:
                return
            current, total, message, eta = self._progress
            self._progress_written, self._progress_written_at = True, time.monotonic()
        if not jobs.report_progress(self.job_id, self._pid, current, total, message, eta):
            self._mark_lost()

    def log_metrics(self, step: int, values: Mapping[str, float]) -> None:
        try:
            rows = metrics.metric_rows(self.run_id, int(step), values)
        except (TypeError, ValueError) as error:
            raise TypeError(f"log_metrics(step={step}): every value must be a number ({error})") from None
        with self._lock:
            self._metric_rows.extend(rows)
            due = len(self._metric_rows) >= self._flush_rows or time.monotonic() - self._last_flush >= self._flush_s
        if due:
            self.flush()

    def log_samples(self, step: int, samples: list[Mapping[str, Any]]) -> None:
        step = int(step)
        with self._lock:
            for sample in samples:
                # Numbering restarts per attempt, so a replayed step overwrites rather than duplicates.
                idx = self._sample_counts[step]
                self._sample_counts[step] += 1
                self._sample_rows.append(sample_store.sample_row(self.run_id, self.job_id, step, idx, sample))
            due = len(self._sample_rows) >= 200 or time.monotonic() - self._last_flush >= self._flush_s
        if due:
            self.flush()

    def flush(self, state: Mapping[str, Any] | None = None) -> None:
        """Write buffered rows (and `state`, when given) in one transaction."""
        with self._lock:
            if self._lost:
                raise JobLostError(f"job {self.job_id} is no longer owned by this process")
            metric_rows, sample_rows = self._metric_rows, self._sample_rows
            if not metric_rows and not sample_rows and state is None:
                self._last_flush = time.monotonic()
                return
            try:
                owned = outputs.write_job_output(
                    self.run_id, metric_rows, sample_rows, state, job_id=self.job_id, pid=self._pid
                )
            except Exception as error:
                self._note_failure(error, "saving metrics, samples and resume state")
                raise
            if not owned:
                self._mark_lost()
                raise JobLostError(f"job {self.job_id} is no longer owned by this process")
            self._metric_rows, self._sample_rows = [], []
            self._last_flush = time.monotonic()

    def register_checkpoint(self, step: int, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        path = confined(path, self.work_dir)
        with self.doing(f"saving checkpoint-{int(step)}"):
            self.flush()
            return checkpoints.register_checkpoint(self.run_id, step, path, meta, job_id=self.job_id)

    def register_dataset(self, name: str, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        meta = dict(meta or {})
        num_rows = meta.get("num_rows")
        path = confined(path, self.work_dir)
        if num_rows is None and path.suffix == ".jsonl" and path.is_file():
            with path.open("rb") as handle:
                num_rows = sum(1 for line in handle if line.strip())
        return datasets.register_dataset(name, path, meta, run_id=self.run_id, num_rows=num_rows)

    def record_evaluation(
        self, model: str, suite: str, results: Mapping[str, Any], checkpoint_id: int | None = None
    ) -> int:
        with self.doing(f"saving the evaluation of {model} on {suite}"):
            self.flush()  # the samples the results point at go first
            evaluation_id = evaluations.add_evaluation(
                self.run_id, model, suite, results, checkpoint_id, job_id=self.job_id, pid=self._pid
            )
        if evaluation_id is None:
            self._mark_lost()
            raise JobLostError(f"job {self.job_id} is no longer owned by this process")
        return evaluation_id

    def last_checkpoint(self) -> tuple[int, Path] | None:
        record = checkpoints.last_checkpoint(self.run_id)
        return (record.step, Path(record.path)) if record else None

    def last_metric_step(self) -> int | None:
        self.flush()
        return metrics.last_metric_step(self.run_id)

    def resume_from(self, step: int) -> None:
        """Training goes on after `step` (0: from the start): drop the run's metric and sample rows of later
        steps, which a killed attempt wrote, in one transaction, so no step mixes two attempts."""
        self.flush()
        with self._lock:
            if not outputs.discard_after(self.run_id, int(step), job_id=self.job_id, pid=self._pid):
                self._mark_lost()
                raise JobLostError(f"job {self.job_id} is no longer owned by this process")
            self._sample_counts.clear()

    def resume_state(self) -> Mapping[str, Any]:
        return dict(self._state)

    def save_state(self, state: Mapping[str, Any]) -> None:
        try:
            json.dumps(state, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise TypeError(f"save_state: the state must be plain JSON (no NaN): {error}") from None
        self.flush(state=state)


STEADY_WINDOW = 8  # recent advances the ETA's unit time is taken from


def steady_unit_time(unit_times: list[tuple[float, bool]]) -> float | None:
    """Median seconds per unit over the recent advances, leaving out the first one (model loading, compile,
    cache warm-up) once a steady one exists; None before any advance."""
    steady = [seconds for seconds, first in unit_times if not first] or [seconds for seconds, _ in unit_times]
    if not steady:
        return None
    ordered = sorted(steady)
    return ordered[len(ordered) // 2]


def eta_text(seconds: float | None) -> str:
    """'3m 20s' style, for CLI and UI."""
    if seconds is None or math.isnan(seconds):
        return "—"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
