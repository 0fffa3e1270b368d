"""The Runs screen's data: the filtered, sorted table with a headline metric per run, run details, config diff,
exports (metrics CSV/JSON, samples JSONL) and deleting a run with its files (only its own folder and job logs).
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.paths import lab_home, logs_dir, runs_dir
from storage.checkpoints import list_checkpoints
from storage.datasets import list_datasets
from storage.evaluations import list_evaluations
from storage.jobs import JobRecord, list_jobs
from storage.metrics import latest_metrics, latest_value, metric_series
from storage.models import ACTIVE_STATUSES
from storage.runs import RunRecord, delete_run, get_run, list_runs
from storage.samples import list_samples
from ui.job_view import RUN_PREFIX, clock

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


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(_flat(inner, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def config_diff(run_a: int, run_b: int) -> list[list[str]]:
    """[field, value in A, value in B] for every config field that differs (nested fields dotted)."""
    a, b = _flat(get_run(int(run_a)).config), _flat(get_run(int(run_b)).config)
    rows = []
    for key in sorted(set(a) | set(b)):
        if a.get(key, "∅") != b.get(key, "∅"):
            rows.append([key, _shown(a.get(key, "∅")), _shown(b.get(key, "∅"))])
    return rows


def _shown(value: Any) -> str:
    """JSON with its own characters: a missing field reads —, never the escape "\\u2205"."""
    return "—" if value == "∅" else json.dumps(value, ensure_ascii=False)


def _export_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="iflab-export-"))


def export_metrics(run_id: int, fmt: str) -> str:
    """All of the run's metrics as long-form CSV (step, name, value) or JSON {name: {steps, values}}."""
    if fmt not in ("csv", "json"):  # before it becomes part of a file name
        raise LabError(f"must be csv or json, got {fmt!r}", field="format")
    series = metric_series(int(run_id))
    if not series:
        raise LabError(f"run {run_id} has no stored metrics", field="run")
    path = _export_dir() / f"run-{int(run_id)}-metrics.{fmt}"
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["step", "name", "value"])
            for name, s in series.items():
                writer.writerows(
                    [step, name, "" if v is None else v] for step, v in zip(s.steps, s.values, strict=True)
                )
    elif fmt == "json":
        data = {name: {"steps": list(s.steps), "values": list(s.values)} for name, s in series.items()}
        path.write_text(json.dumps(data), encoding="utf-8")
    else:
        raise LabError(f"must be csv or json, got {fmt!r}", field="format")
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


def run_files(run_id: int) -> list[Path]:
    """What deleting the run removes from disk: its own folder `runs/run-N` and its jobs' `logs/job-M.*` files.
    Checkpoint and dataset rows are not trusted with paths: the ones the run wrote live in its folder, and a row
    pointing anywhere else (a shared model folder, another run's, $LAB_HOME itself) must not take that along."""
    folder = runs_dir() / f"run-{run_id}"
    found = [folder] if folder.exists() or folder.is_symlink() else []
    logs = logs_dir().resolve()
    for job in list_jobs(run_id=run_id, limit=10_000):
        for name in (f"job-{job.id}.log", f"job-{job.id}.outcome.json", f"job-{job.id}.outcome.reserve"):
            path = logs / name
            if path.is_file() and not path.is_symlink():
                found.append(path)
    return found


def kept_files(run_id: int) -> list[Path]:
    """Files the run's checkpoint and dataset rows point at outside its folder: deleting the run keeps them."""
    folder = (runs_dir() / f"run-{run_id}").resolve()
    paths = [Path(c.path) for c in list_checkpoints(run_id=run_id)]
    paths += [Path(d.path) for d in list_datasets(limit=10_000) if d.run_id == run_id]
    return [p for p in dict.fromkeys(paths) if p.exists() and not p.resolve().is_relative_to(folder)]


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def dependants(run_id: int) -> list[int]:
    """Other runs whose config points at this run's output ('run:<id>')."""
    wanted = f"{RUN_PREFIX}{run_id}"
    return sorted(
        r.id
        for r in list_runs(limit=10_000)
        if r.id != run_id and any(isinstance(v, str) and v.strip() == wanted for v in r.config.values())
    )


def delete_plan(run_id: int) -> str:
    """What deleting the run would remove, for the confirmation line."""
    run = get_run(int(run_id))
    files = run_files(run.id)
    size = sum(_size(p) for p in files) / 1e6
    active = [j for j in list_jobs(run_id=run.id, limit=10) if j.status in ACTIVE_STATUSES]
    if active:
        return (
            f"Run {run.id} ({run.name}) is {active[0].status} (job {active[0].id}): cancel it in the Train tab "
            "first; a run with an active job cannot be deleted."
        )
    text = f"Delete run {run.id} ({run.name}): its jobs, metrics, samples, checkpoints and {len(files)} file(s) / "
    text += f"folder(s), {size:.1f} MB, inside {lab_home()}?"
    kept = kept_files(run.id)
    if kept:
        text += f" {len(kept)} referenced file(s) / folder(s) outside the run's folder are kept."
    users = dependants(run.id)
    if users:
        text += f" Runs {', '.join(map(str, users))} use its output and could not be resumed afterwards."
    return text


def delete_run_with_files(run_id: int) -> str:
    """Delete the rows (refused while a job of the run is active), then the files."""
    files = run_files(int(run_id))
    delete_run(int(run_id))
    for path in files:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:  # a file, or a link: remove the link, never what it points at
            path.unlink(missing_ok=True)
    return f"Deleted run {run_id} and {len(files)} file(s) / folder(s)."
