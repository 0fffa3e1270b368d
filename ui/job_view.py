"""What the Train screen shows about a job, read from storage on every refresh (never from page memory), so a
reloaded page or a second browser shows the same job: which job to watch, progress, log tail, samples, queue.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage import jobs as job_store
from storage.jobs import JobRecord
from storage.models import ACTIVE_STATUSES, RESUMABLE_STATUSES, JobStatus
from storage.runs import get_run
from storage.samples import count_samples, list_samples
from training.refs import run_ids_in
from ui.scoring import summary

AUTO = "auto"
SAMPLE_HEADERS = ["step", "reward", "prompt", "response", "breakdown"]
QUEUE_HEADERS = ["job", "run", "kind", "status", "progress", "name"]
LOG_LINES = 60


def clock(seconds: float | None) -> str:
    """0:42, 12:05, 1:02:03 — or '—' when unknown."""
    if seconds is None or seconds < 0:
        return "—"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def watched_job(choice: str | None) -> JobRecord | None:
    """The job a watch choice means: a job id, or 'auto' = the running job, else the next queued, else the newest."""
    if choice and choice != AUTO:
        try:
            return job_store.get_job(int(choice))
        except (LabError, ValueError):
            return None
    running = job_store.list_jobs(status=JobStatus.RUNNING, limit=1)
    if running:
        return running[0]
    queued = job_store.list_jobs(status=JobStatus.QUEUED, limit=1000)
    if queued:
        return queued[-1]  # the oldest queued job runs next
    newest = job_store.list_jobs(limit=1)
    return newest[0] if newest else None


def job_label(job: JobRecord, run_name: str | None = None) -> str:
    name = run_name if run_name is not None else get_run(job.run_id).name
    return f"job {job.id} · {job.kind} · {job.status} · {name}"


def watch_choices(limit: int = 30) -> list[tuple[str, str]]:
    choices = [("auto: follow the running job", AUTO)]
    for job in job_store.list_jobs(limit=limit):
        choices.append((job_label(job), str(job.id)))
    return choices


@dataclass(frozen=True)
class Progress:
    fraction: float | None  # None when the job has not reported a total
    text: str


def remaining_seconds(job: JobRecord, now: float | None = None) -> float | None:
    """The job's ETA counted down to now: the job rewrites it with every heartbeat, so ETA minus the time since
    that heartbeat is current between updates. None before the job has a steady step time."""
    if job.eta_seconds is None or job.status != JobStatus.RUNNING:
        return None
    now = time.time() if now is None else now
    return max(0.0, job.eta_seconds - max(0.0, now - (job.heartbeat_at or now)))


def eta_text(job: JobRecord, now: float | None = None) -> str:
    left = remaining_seconds(job, now)
    return f"ETA {clock(left)}" if left is not None else "ETA after the first steady step"


def waiting_for(job: JobRecord) -> str:
    """Why a queued job has not started: the stage it needs, the job ahead of it, or no worker at all."""
    for ref in run_ids_in(job.config.values()):
        needed = job_store.list_jobs(run_id=ref, limit=1)
        if needed and needed[0].status in ACTIVE_STATUSES:
            return f"waiting for job {needed[0].id} ({needed[0].kind}, {needed[0].status})"
    running = job_store.list_jobs(status=JobStatus.RUNNING, limit=1)
    if running:
        return f"waiting for the worker: job {running[0].id} ({running[0].kind}) is running"
    ahead = [j for j in job_store.list_jobs(status=JobStatus.QUEUED, limit=1000) if j.id < job.id]
    if ahead:
        return f"waiting for the worker: {len(ahead)} queued ahead"
    return "waiting for the worker (if this stays, none is running: start one with python -m training.worker)"


def progress_of(job: JobRecord | None, now: float | None = None) -> Progress:
    """'job 7 · grpo · running · step 2/3 (67 %) · elapsed 0:42 · ETA 0:21 · GRPO step 2/3'."""
    if job is None:
        return Progress(None, "No jobs yet: pick a preset and press Launch.")
    now = time.time() if now is None else now
    parts = [f"job {job.id}", job.kind, job.status]
    fraction = None
    if job.progress_total:
        fraction = min(1.0, max(0.0, job.progress_current / job.progress_total))
        parts.append(f"step {job.progress_current}/{job.progress_total} ({100 * fraction:.0f} %)")
    if job.started_at:
        parts.append(f"elapsed {clock((job.finished_at or now) - job.started_at)}")
    if job.status == JobStatus.RUNNING:
        parts.append(eta_text(job, now))
    elif job.status == JobStatus.QUEUED:
        parts.append(waiting_for(job))
    if job.progress_message:
        parts.append(job.progress_message)
    if job.error_message and job.status in RESUMABLE_STATUSES:
        parts.append(job.error_message)
    return Progress(fraction, " · ".join(parts))


def progress_bar_html(progress: Progress, status: str) -> str:
    """A bar built only from numbers (no job text goes into HTML)."""
    percent = 0.0 if progress.fraction is None else 100.0 * progress.fraction
    colour = {JobStatus.FAILED: "#d62728", JobStatus.CANCELLED: "#7f7f7f", JobStatus.INTERRUPTED: "#ff7f0e"}.get(
        status, "#2ca02c"
    )
    return (
        '<div id="train-bar" style="height:14px;border-radius:7px;background:#e5e7eb;overflow:hidden">'
        f'<div style="height:100%;width:{percent:.1f}%;background:{colour}"></div></div>'
    )


def log_tail(job: JobRecord | None, lines: int = LOG_LINES) -> str:
    if job is None or not job.log_path:
        return ""
    path = Path(job.log_path)
    if not path.is_file():
        return "(no log yet)"
    with path.open("rb") as handle:
        handle.seek(0, 2)
        size = handle.tell()
        handle.seek(max(0, size - 64_000))  # a long log: read only its end
        text = handle.read().decode("utf-8", errors="replace")
    # Progress bars redraw with carriage returns; keep the last state of each line.
    cleaned = [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.rstrip("\n").split("\n")]
    return "\n".join(readable_log_line(line) for line in cleaned[-lines:])


ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
TRL_DICT = re.compile(r"^\{'[^']+': .*\}$")


def readable_log_line(line: str) -> str:
    """No terminal colour codes; TRL's per-step dict dumps (already charted) shortened to their first keys."""
    line = ANSI.sub("", line)
    if TRL_DICT.match(line.strip()) and len(line) > 160:
        return line.strip()[:150] + " …}  (every value is in the charts and Runs)"
    return line


def linked_runs(run_id: int) -> dict[str, int]:
    """kind → run id for this run and the earlier runs its config points at ('run:<id>'), transitively."""
    found: dict[str, int] = {}
    pending, seen = [run_id], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            run = get_run(current)
        except LabError:
            continue
        found.setdefault(run.kind, current)
        pending.extend(run_ids_in(run.config.values()))
    return found


def downstream_queued(run_id: int) -> list[JobRecord]:
    """Queued jobs waiting for this run's output (they reference 'run:<id>'): cancelling a stage cancels them."""
    return [
        job
        for job in job_store.list_jobs(status=JobStatus.QUEUED, limit=1000)
        if run_id in run_ids_in(job.config.values())
    ]


def samples_table(run_id: int | None, limit: int = 12) -> list[list[Any]]:
    """Newest stored completions with a one-line breakdown each."""
    if run_id is None:
        return []
    rows = []
    for sample in list_samples(run_id, limit=limit, newest_first=True):
        reward = "—" if sample.reward is None else f"{sample.reward:.3f}"
        rows.append([sample.step, reward, sample.prompt, sample.response, summary(sample.breakdown)])
    return rows


def refresh_key(job: JobRecord | None, runs: Mapping[str, int]) -> tuple:
    """Changes whenever the charts or samples could have changed (so unchanged refreshes redraw nothing)."""
    from storage.metrics import last_metric_step

    if job is None:
        return ()
    per_run = tuple((kind, run_id, last_metric_step(run_id), count_samples(run_id)) for kind, run_id in runs.items())
    return (job.id, job.status, per_run)


STAGE_ORDER = ("dataset", "reward_model", "grpo", "evaluate", "generate")
STAGE_HEADERS = ["stage", "kind", "job", "status", "progress", "time"]


def pipeline_runs(run_id: int) -> dict[str, int]:
    """kind → run id of the pipeline the run belongs to: the runs it points at and the runs pointing at it."""
    found = dict(linked_runs(run_id))
    wanted = set(found.values())
    from storage.runs import list_runs

    for run in sorted(list_runs(limit=200), key=lambda r: r.id):
        if run.id > run_id and wanted.intersection(run_ids_in(run.config.values())):
            found.setdefault(run.kind, run.id)
            wanted.add(run.id)
    return dict(sorted(found.items(), key=lambda kv: STAGE_ORDER.index(kv[0]) if kv[0] in STAGE_ORDER else 99))


def stage_rows(runs: Mapping[str, int], now: float | None = None) -> tuple[list[list[Any]], str]:
    """One row per pipeline stage (stage i of n, its job, status, progress, ETA or time taken) and a headline
    'stage 2 of 3 (reward_model)'."""
    now = time.time() if now is None else now
    rows, current = [], ""
    for i, (kind, run_id) in enumerate(runs.items(), start=1):
        jobs = job_store.list_jobs(run_id=run_id, limit=1)
        if not jobs:
            continue
        job = jobs[0]
        progress = f"{job.progress_current}/{job.progress_total}" if job.progress_total else "—"
        if job.status == JobStatus.RUNNING:
            timing = eta_text(job, now)
            current = current or f"stage {i} of {len(runs)} ({kind})"
        elif job.status == JobStatus.QUEUED:
            timing = waiting_for(job)
        else:
            timing = f"took {clock((job.finished_at or now) - job.started_at)}" if job.started_at else "—"
        rows.append([f"{i} of {len(runs)}", kind, job.id, job.status, progress, timing])
    if not current and rows:
        waiting = next((r for r in rows if r[3] == JobStatus.QUEUED), None)
        current = f"stage {waiting[0]} ({waiting[1]}) next" if waiting else f"all {len(rows)} stage(s) ended"
    return rows, current


def queue_table() -> list[list[Any]]:
    rows = []
    for job in job_store.list_jobs(limit=200):
        if job.status not in ACTIVE_STATUSES:
            continue
        total = f"{job.progress_current}/{job.progress_total}" if job.progress_total else "—"
        rows.append([job.id, job.run_id, job.kind, job.status, total, get_run(job.run_id).name])
    return rows
