"""The Runs screen's data: the filtered, sorted table with a headline metric per run, run details, exports
(metrics CSV/JSON, samples JSONL) and deleting a run with its files (only its own folder and job logs). Deleting,
the config diff and the metrics export are training/run_admin.py's, shared with the CLI (`python -m training
delete | diff | export-metrics`); this module adds the screen's wording and temp files.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage.checkpoints import list_checkpoints
from storage.datasets import list_datasets
from storage.evaluations import list_evaluations
from storage.jobs import JobRecord, list_jobs
from storage.metrics import latest_metrics, latest_value, metric_series  # noqa: F401
from storage.runs import RunRecord, get_run, list_runs  # noqa: F401
from storage.samples import list_samples
from training import run_admin
from ui.job_view import clock

# tests/test_metric_thinning.py reads rt.get_run and patches rt.metric_series (the headline must never read a whole
# curve), hence the noqa imports above.

RUN_HEADERS = ["run", "name", "kind", "status", "created", "duration", "attempts", "headline"]
SORTS = ("newest", "oldest", "longest", "best headline", "name")
HEADLINE_METRIC = {"grpo": "reward", "reward_model": "rm/held_out_accuracy", "generate": "reward/mean"}


@dataclass(frozen=True)
class RunRow:
    run: RunRecord
    jobs: list[JobRecord]
    headline: str
    headline_value: float | None

    @property
    def duration(self) -> float:
        now = time.time()
        return sum((j.finished_at or now) - j.started_at for j in self.jobs if j.started_at)

    def cells(self) -> list[Any]:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.run.created_at))
        return [
            self.run.id,
            self.run.name,
            self.run.kind,
            self.run.status,
            created,
            clock(self.duration) if self.jobs else "—",
            len(self.jobs),
            self.headline,
        ]


def headline(run: RunRecord) -> tuple[str, float | None]:
    """The one number that says how a run went, by kind."""
    if run.kind in HEADLINE_METRIC:
        name = HEADLINE_METRIC[run.kind]
        latest = latest_value(run.id, name)  # one key seek, not the whole curve
        if latest is not None and latest[1] is not None:
            step, value = latest[0], float(latest[1])
            return f"{name} {value:.3f} @ step {step}", value
    if run.kind == "dataset":
        found = [d for d in list_datasets(limit=10_000) if d.run_id == run.id]
        if found:
            return f"{found[0].label}: {found[0].num_rows} rows", float(found[0].num_rows or 0)
    if run.kind == "evaluate":
        for evaluation in list_evaluations(run_id=run.id, limit=50):
            loose = (evaluation.results.get("headline") or {}).get("instruction_loose")
            if loose is not None:
                return f"instruction loose {100 * loose:.1f} % ({evaluation.suite})", float(loose)
    return "", None


def run_rows(kind: str = "all", status: str = "all", search: str = "", sort: str = "newest") -> list[RunRow]:
    wanted = (search or "").strip().lower()
    rows = []
    for run in list_runs(kind=None if kind in ("", "all") else kind, limit=500):
        if status not in ("", "all") and run.status != status:
            continue
        if wanted and wanted not in run.name.lower() and wanted != str(run.id):
            continue
        text, value = headline(run)
        rows.append(RunRow(run, list_jobs(run_id=run.id, limit=1000), text, value))
    keys = {
        "newest": lambda r: -r.run.id,
        "oldest": lambda r: r.run.id,
        "longest": lambda r: -r.duration,
        "best headline": lambda r: (r.headline_value is None, -(r.headline_value or 0.0)),
        "name": lambda r: r.run.name.lower(),
    }
    if sort not in keys:
        raise LabError(f"must be one of {', '.join(SORTS)}, got {sort!r}", field="sort")
    return sorted(rows, key=keys[sort])


def jobs_rows(run_id: int) -> list[list[Any]]:
    now = time.time()
    rows = []
    for job in sorted(list_jobs(run_id=run_id, limit=1000), key=lambda j: j.id):
        took = clock((job.finished_at or now) - job.started_at) if job.started_at else "—"
        progress = f"{job.progress_current}/{job.progress_total}" if job.progress_total else "—"
        rows.append([job.id, job.attempt, job.status, progress, took, job.exit_code, job.error_message or ""])
    return rows


def metrics_rows(run_id: int) -> list[list[Any]]:
    return [
        [name, step, "—" if value is None else f"{value:.6g}"] for name, (step, value) in latest_metrics(run_id).items()
    ]


def checkpoint_rows(run_id: int) -> list[list[Any]]:
    return [
        [c.id, c.step, c.path, "yes" if c.exists else "missing", json.dumps(c.meta)[:200]]
        for c in sorted(list_checkpoints(run_id=run_id), key=lambda c: c.step)
    ]


def _export_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="iflab-export-"))


def export_metrics(run_id: int, fmt: str) -> str:
    """The download: all of the run's metrics as long-form CSV (step, name, value) or JSON {name: {steps, values}}
    (training.run_admin.metrics_export, the same text as `python -m training export-metrics`), in a temp file."""
    text = run_admin.metrics_export(int(run_id), fmt)
    path = _export_dir() / run_admin.metrics_file_name(int(run_id), fmt)
    path.write_text(text, encoding="utf-8", newline="")
    return str(path)


def export_samples(run_id: int) -> str:
    path = _export_dir() / f"run-{int(run_id)}-samples.jsonl"
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        offset = 0
        while batch := list_samples(int(run_id), limit=1000, offset=offset):
            for s in batch:
                record = {"step": s.step, "idx": s.idx, "prompt": s.prompt, "response": s.response}
                record |= {"reward": s.reward, "breakdown": s.breakdown, "meta": s.meta}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += len(batch)
            offset += len(batch)
    if not count:
        raise LabError(f"run {run_id} has no stored samples", field="run")
    return str(path)


def delete_plan(run_id: int) -> str:
    """What deleting the run would remove, for the confirmation line (or why it cannot be deleted now)."""
    plan = run_admin.plan_delete(int(run_id))
    return plan.refusal("cancel it in the Train tab first") if plan.active else plan.question()


def delete_run_with_files(run_id: int) -> str:
    """Delete the rows (refused while a job of the run is active), then the run's own files."""
    removed = run_admin.delete_run_with_files(int(run_id))
    return f"Deleted run {run_id} and {len(removed)} file(s) / folder(s)."
