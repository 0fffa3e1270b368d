"""The job CLI, `python -m training COMMAND`: submit, run, list, show, cancel, resume, logs, kinds, pipeline, export;
and the Runs screen's run commands (training/run_admin.py): delete, diff, export-metrics.

Configs come from a YAML file whose keys are the kind's config fields (`python -m training kinds KIND` lists
them) and/or `--set key=value`. Mistakes print one line starting with "error:" and exit with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lab.errors import LabError
from storage.models import JobStatus

EXIT_USAGE = 2


def _read_config(path: str | None, sets: Sequence[str], kind: str | None = None) -> dict[str, Any]:
    """Values from the YAML file, then --set overrides. A preset file (one section per kind) gives its `kind` part."""
    from training.overrides import parse_sets

    values: dict[str, Any] = {}
    if path:
        from training.yaml_files import read_yaml

        loaded = read_yaml(Path(path).expanduser(), "config")
        if loaded is not None and not isinstance(loaded, dict):
            raise LabError(f"{path} must be a mapping of config fields to values", field="config")
        if kind and isinstance(loaded, dict) and isinstance(loaded.get(kind), dict):
            loaded = loaded[kind]
        values.update(loaded or {})
    values.update(parse_sets(sets))  # training.overrides: the parser `training pipeline --set` uses too
    return values


def _age(t: float | None) -> str:
    if t is None:
        return "-"
    seconds = max(0, int(time.time() - t))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _progress(job: Any) -> str:
    from training.context import eta_text

    if job.progress_total:
        text = f"{job.progress_current}/{job.progress_total}"
        if job.status == JobStatus.RUNNING:
            text += f" eta {eta_text(job.eta_seconds)}"
        return text
    return str(job.progress_current or "-")


def _recover_dead_jobs() -> None:
    """The worker's crash recovery, here too: a killed foreground job has no worker to notice it died, so
    `running` jobs whose process is gone (or whose heartbeat went stale) become `interrupted` on sight."""
    from training.worker import recover_jobs

    recover_jobs(skip_pids=frozenset({os.getpid()}))


def cmd_submit(args: argparse.Namespace) -> int:
    from training.jobs import submit_job

    job = submit_job(args.kind, _read_config(args.config, args.set, args.kind), name=args.name, force=args.force)
    print(f"queued job {job.id} (run {job.run_id}, {job.kind}); follow it with: python -m training logs {job.id} -f")
    _print_warnings([job])
    return 0


def _print_warnings(jobs: Any) -> None:
    from training.rm_quality import launch_warnings

    for job in jobs:
        for warning in launch_warnings(job.kind, job.config):
            print(f"warning: {warning}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from training.jobs import run_in_foreground

    job = run_in_foreground(args.kind, _read_config(args.config, args.set, args.kind), name=args.name)
    print(f"job {job.id} (run {job.run_id}) {job.status}" + (f": {job.error_message}" if job.error_message else ""))
    return 0 if job.status == JobStatus.SUCCEEDED else 1


def cmd_list(args: argparse.Namespace) -> int:
    from storage import jobs

    _recover_dead_jobs()
    rows = jobs.list_jobs(status=args.status, limit=args.limit)
    if not rows:
        print("no jobs")
        return 0
    print(f"{'ID':>5} {'RUN':>5} {'KIND':<14} {'STATUS':<11} {'TRY':>3} {'PROGRESS':<22} {'CREATED':<10}")
    for job in rows:
        print(
            f"{job.id:>5} {job.run_id:>5} {job.kind:<14} {job.status:<11} {job.attempt:>3} "
            f"{_progress(job):<22} {_age(job.created_at):<10}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml

    from storage import jobs, metrics, runs, samples

    _recover_dead_jobs()
    job = jobs.get_job(args.job_id)
    run = runs.get_run(job.run_id)
    print(f"job {job.id}: {job.kind}, {job.status}, attempt {job.attempt} of run {run.id} ({run.name!r})")
    if job.previous_job_id:
        print(f"  resumes job {job.previous_job_id}")
    print(f"  progress: {_progress(job)} {job.progress_message}".rstrip())
    print(f"  created {_age(job.created_at)}, started {_age(job.started_at)}, finished {_age(job.finished_at)}")
    print(f"  pid {job.pid or '-'} on {job.host or '-'}, last heartbeat {_age(job.heartbeat_at)}")
    if job.cancel_requested and job.status == JobStatus.RUNNING:
        print("  cancel requested")
    if job.error_message:
        print(f"  error: {job.error_message}")
    if job.result:
        print(f"  result: {job.result}")
    if job.log_path and Path(job.log_path).is_file():
        print(f"  log: {job.log_path}")
    else:
        why = "it starts when a worker picks the job up" if job.status == JobStatus.QUEUED else "no file was written"
        print(f"  log: none ({why})")
    latest = metrics.latest_metrics(run.id)
    if latest:
        print("  latest metrics:")
        for name, (step, value) in latest.items():
            print(f"    {name} = {value} (step {step})")
    print(f"  samples stored: {samples.count_samples(run.id)}")
    print("  config:")
    for line in yaml.safe_dump(job.config, sort_keys=False).splitlines():
        print(f"    {line}")
    if args.traceback and job.error_traceback:
        print(job.error_traceback)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from training.jobs import cancel_job

    _recover_dead_jobs()
    job = cancel_job(args.job_id)
    if job.status == JobStatus.CANCELLED:
        print(f"job {job.id} cancelled (it had not started)")
    else:
        print(f"job {job.id}: cancel requested; it stops after its current step")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from training.jobs import resume_job

    _recover_dead_jobs()
    job = resume_job(args.job_id, force=args.force, foreground=args.foreground)
    if args.foreground:
        print(f"job {job.id} (attempt {job.attempt} of run {job.run_id}) {job.status}" + _error_suffix(job))
        return 0 if job.status == JobStatus.SUCCEEDED else 1
    print(f"queued job {job.id}: attempt {job.attempt} of run {job.run_id}, resuming job {args.job_id}")
    return 0


def _error_suffix(job: Any) -> str:
    return f": {job.error_message}" if job.error_message else ""


def cmd_logs(args: argparse.Namespace) -> int:
    from storage import jobs

    _recover_dead_jobs()
    job = jobs.get_job(args.job_id)
    path = Path(job.log_path) if job.log_path else None
    position = 0
    while True:
        if path is not None and path.exists():
            with path.open("rb") as handle:
                handle.seek(position)
                chunk = handle.read()
                position += len(chunk)
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
        if not args.follow:
            break
        finished = jobs.get_job(args.job_id).finished
        if finished and (path is None or not path.exists() or path.stat().st_size <= position):
            break
        time.sleep(0.5)
    if path is None or not path.exists():
        if job.status == JobStatus.QUEUED:
            print(f"job {job.id} is queued; its log starts when a worker picks it up", file=sys.stderr)
        else:
            print(f"job {job.id} has no log file", file=sys.stderr)
    return 0


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    return text or str(annotation).replace("typing.", "")


def cmd_kinds(args: argparse.Namespace) -> int:
    from training.jobs import kind_for, load_plugin_kinds
    from training.registry import all_kinds

    load_plugin_kinds()
    kinds = [kind_for(args.kind)] if args.kind else all_kinds()
    for kind in kinds:
        print(f"{kind.name}: {kind.help}")
        hints = typing.get_type_hints(kind.config_cls)
        for f in dataclasses.fields(kind.config_cls):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = "(required)"
            low, high = f.metadata.get("min"), f.metadata.get("max")
            span = f" {low:,}..{high:,}" if low is not None and high is not None else ""  # parse_config's bounds
            print(f"  {f.name} ({_type_name(hints[f.name])}{span}, default {default!r}): {f.metadata.get('help', '')}")
        print()
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    """The Runs screen's delete: refused while a job of the run is active; asks first unless --yes."""
    from training import run_admin

    _recover_dead_jobs()
    plan = run_admin.plan_delete(args.run_id)
    if plan.active:
        how = f"cancel it first with `python -m training cancel {plan.active.id}`"
        raise LabError(plan.refusal(how), field="run_id")
    if not args.yes:
        if not sys.stdin.isatty():
            raise LabError(f"run {plan.run.id} not deleted: stdin is not a terminal; pass --yes to delete it")
        print(plan.question())
        try:
            answer = input("Delete? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print(f"run {plan.run.id} not deleted")
            return 1
    removed = run_admin.delete_run_with_files(plan.run.id)
    print(f"deleted run {plan.run.id} ({plan.run.name}) and {len(removed)} file(s) / folder(s)")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    """The Runs screen's config diff: the fields whose values differ, one column per run."""
    from training.run_admin import config_diff

    run_ids = [args.run_a, args.run_b, *args.more]
    headers, rows = config_diff(run_ids)
    if not rows:
        print(f"runs {', '.join(map(str, run_ids))} have the same kind and config")
        return 0
    table = [[h.upper() for h in headers], *rows]
    widths = [min(60, max(len(row[i]) for row in table)) for i in range(len(headers) - 1)]
    for row in table:
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))
    return 0


def cmd_export_metrics(args: argparse.Namespace) -> int:
    """The Runs screen's metrics download, to a file or stdout (the same bytes either way)."""
    from training import run_admin

    if args.output:
        path = run_admin.write_metrics_export(args.run_id, args.format, Path(args.output).expanduser())
        print(f"wrote run {args.run_id}'s metrics ({args.format}) to {path}")
    else:
        sys.stdout.write(run_admin.metrics_export(args.run_id, args.format))
        sys.stdout.flush()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def config_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("kind", help="job kind (see `kinds`)")
        p.add_argument("--config", "-c", help="YAML file of config fields")
        p.add_argument("--set", "-s", action="append", default=[], metavar="KEY=VALUE", help="set one field")
        p.add_argument("--name", help="run name (default: kind and time)")

    p = sub.add_parser("submit", help="queue a job for the worker")
    config_args(p)
    p.add_argument("--force", action="store_true", help="queue even past the cap (LAB_MAX_QUEUED)")
    p.set_defaults(func=cmd_submit)
    p = sub.add_parser("run", help="run a job here in the foreground (same checks and code as the worker)")
    config_args(p)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("list", help="list jobs, newest first")
    p.add_argument("--status", choices=[s.value for s in JobStatus])
    p.add_argument("--limit", type=int, default=30)
    p.set_defaults(func=cmd_list)
    for name, func, text in (
        ("show", cmd_show, "show a job's state, progress, error, latest metrics and config"),
        ("cancel", cmd_cancel, "cancel a queued or running job (partial results are kept)"),
        ("resume", cmd_resume, "queue (or, --foreground, run here) a new attempt of an ended job"),
        ("logs", cmd_logs, "print a job's log"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_id", type=int, metavar="ID")
        p.set_defaults(func=func)
        if name == "logs":
            p.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
        if name == "show":
            p.add_argument("--traceback", action="store_true", help="print the error's traceback")
        if name == "resume":
            p.add_argument("--foreground", action="store_true", help="run the new attempt here, not in the queue")
            p.add_argument("--force", action="store_true", help="queue even past the cap (LAB_MAX_QUEUED)")
    p = sub.add_parser("kinds", help="list job kinds and their config fields (the YAML keys)")
    p.add_argument("kind", nargs="?")
    p.set_defaults(func=cmd_kinds)
    p = sub.add_parser("delete", help="delete a run: its rows and its own files (refused while a job of it is active)")
    p.add_argument("run_id", type=int, metavar="RUN")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    p.set_defaults(func=cmd_delete)
    p = sub.add_parser("diff", help="the config fields where two or more runs differ (the Runs screen's diff)")
    p.add_argument("run_a", type=int, metavar="RUN_A")
    p.add_argument("run_b", type=int, metavar="RUN_B")
    p.add_argument("more", type=int, nargs="*", metavar="RUN", help="more runs, one column each")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("export-metrics", help="a run's metric series as CSV (step,name,value) or JSON")
    p.add_argument("run_id", type=int, metavar="RUN")
    p.add_argument("--format", default="csv", metavar="{csv,json}", help="csv (default) or json")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of to stdout")
    p.set_defaults(func=cmd_export_metrics)
    return parser


# Subcommands with parsers of their own: `pipeline` (training/pipeline.py) and `export` (training/export.py).
_DELEGATED = {"pipeline": ("training.pipeline", "main_pipeline"), "export": ("training.export", "main_export")}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in _DELEGATED:
            import importlib

            module, function = _DELEGATED[argv[0]]
            return getattr(importlib.import_module(module), function)(argv[1:])
        args = build_parser().parse_args(argv)
        return args.func(args)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # one line, not a traceback; LAB_DEBUG=1 shows it
        if os.environ.get("LAB_DEBUG"):
            raise
        from storage.db import unusable_database

        damaged = unusable_database(error)  # a database that breaks after start-up (e.g. a damaged page)
        text = str(damaged) if damaged else f"{type(error).__name__}: {error} (set LAB_DEBUG=1 for the traceback)"
        print(f"error: {' '.join(text.split())}", file=sys.stderr)
        return 1
