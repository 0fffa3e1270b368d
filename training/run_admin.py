"""Run administration shared by the Runs screen (ui/run_table.py, ui/run_overlay.py) and the CLI
(`python -m training delete | diff | export-metrics`): deleting a run with its files, the config diff of runs and
a run's metric series as CSV or JSON. Plain functions over storage/ (no Gradio, no SQL, no torch).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.paths import lab_home, logs_dir, runs_dir
from storage.checkpoints import list_checkpoints
from storage.datasets import list_datasets
from storage.jobs import JobRecord, list_jobs
from storage.metrics import metric_series
from storage.models import ACTIVE_STATUSES
from storage.runs import RunRecord, delete_run, get_run, list_runs
from training.refs import run_ids_in

METRIC_FORMATS = ("csv", "json")
MISSING = "—"  # how the config diff shows a field one run has and another lacks
_ABSENT = object()


# --- config diff -------------------------------------------------------------------------------------------------


def flat_config(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config as {dotted.field: value}; a mapping's leaves only (lists stay whole)."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flat_config(inner, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def shown_config_value(value: Any) -> str:
    """A config value as the diff shows it: JSON with its own characters (no \\u escapes), '—' when absent."""
    return MISSING if value is _ABSENT else json.dumps(value, ensure_ascii=False)


def config_diff(run_ids: Sequence[int]) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): every config field whose value differs between the runs (nested fields dotted), one
    column per run; a field one run has and another lacks shows '—'. The kind row comes first when kinds differ."""
    runs = [get_run(int(r)) for r in run_ids]
    flat = [{"kind": run.kind, **flat_config(run.config)} for run in runs]
    headers = ["field", *[f"run {run.id}" for run in runs]]
    rows = []
    keys = sorted(set().union(*flat), key=lambda k: (k != "kind", k)) if flat else []
    for key in keys:
        values = [f.get(key, _ABSENT) for f in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append([key, *[shown_config_value(v) for v in values]])
    return headers, rows


# --- metrics export ----------------------------------------------------------------------------------------------


def check_metrics_format(fmt: str) -> str:
    if fmt not in METRIC_FORMATS:  # checked before it becomes part of a file name
        raise LabError(f"must be csv or json, got {fmt!r}", field="format")
    return fmt


def metrics_file_name(run_id: int, fmt: str) -> str:
    return f"run-{int(run_id)}-metrics.{check_metrics_format(fmt)}"


def metrics_export(run_id: int, fmt: str) -> str:
    """All of the run's metrics as long-form CSV (step, name, value; CRLF rows, as the csv module writes them)
    or JSON {name: {steps, values}}: the text of the Runs screen's download, to be written without newline
    translation (`newline=""`)."""
    check_metrics_format(fmt)
    series = metric_series(int(run_id))
    if not series:
        get_run(int(run_id))  # "no run with id N" rather than "no stored metrics" for a run that does not exist
        raise LabError(f"run {run_id} has no stored metrics", field="run")
    if fmt == "json":
        return json.dumps({name: {"steps": list(s.steps), "values": list(s.values)} for name, s in series.items()})
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["step", "name", "value"])
    for name, s in series.items():
        writer.writerows([step, name, "" if v is None else v] for step, v in zip(s.steps, s.values, strict=True))
    return buffer.getvalue()


def write_metrics_export(run_id: int, fmt: str, path: Path) -> Path:
    """Write `metrics_export` to `path` (the metrics are read first: nothing is written for a run without any)."""
    text = metrics_export(run_id, fmt)
    try:
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as error:
        raise LabError(f"cannot write {path}: {error.strerror or error}", field="output") from None
    return path


# --- delete ------------------------------------------------------------------------------------------------------


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


def dependants(run_id: int) -> list[int]:
    """Other runs whose config points at this run's output ('run:<id>')."""
    return sorted(r.id for r in list_runs(limit=10_000) if r.id != run_id and run_id in run_ids_in(r.config.values()))


def active_job(run_id: int) -> JobRecord | None:
    """The run's queued or running job, if any: a run with one cannot be deleted."""
    return next((j for j in list_jobs(run_id=run_id, limit=10_000) if j.status in ACTIVE_STATUSES), None)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass(frozen=True)
class DeletePlan:
    """What deleting a run would do; `active` set means it would be refused."""

    run: RunRecord
    files: list[Path]
    size_bytes: int
    kept: list[Path]
    dependants: list[int]
    active: JobRecord | None

    def refusal(self, how_to_cancel: str) -> str:
        """Why the run cannot be deleted now (`active` is set); `how_to_cancel` is the screen's or the CLI's way."""
        job = self.active
        assert job is not None
        return (
            f"Run {self.run.id} ({self.run.name}) is {job.status} (job {job.id}): {how_to_cancel}; "
            "a run with an active job cannot be deleted."
        )

    def question(self) -> str:
        """The confirmation question: what goes, what stays, which runs lose their input."""
        text = (
            f"Delete run {self.run.id} ({self.run.name}): its jobs, metrics, samples, checkpoints and "
            f"{len(self.files)} file(s) / folder(s), {self.size_bytes / 1e6:.1f} MB, inside {lab_home()}?"
        )
        if self.kept:
            text += f" {len(self.kept)} referenced file(s) / folder(s) outside the run's folder are kept."
        if self.dependants:
            text += f" Runs {', '.join(map(str, self.dependants))} use its output and could not be resumed afterwards."
        return text


def plan_delete(run_id: int) -> DeletePlan:
    run = get_run(int(run_id))
    files = run_files(run.id)
    return DeletePlan(
        run=run,
        files=files,
        size_bytes=sum(_size(p) for p in files),
        kept=kept_files(run.id),
        dependants=dependants(run.id),
        active=active_job(run.id),
    )


def delete_run_with_files(run_id: int) -> list[Path]:
    """Delete the rows (storage refuses while a job of the run is active, in the same transaction), then the
    run's own files (`run_files`); returns the paths removed."""
    files = run_files(int(run_id))
    delete_run(int(run_id))
    for path in files:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:  # a file, or a link: remove the link, never what it points at
            path.unlink(missing_ok=True)
    return files
