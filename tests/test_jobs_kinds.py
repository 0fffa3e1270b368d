"""A real test-only job kind, `linear_fit`: minibatch SGD on a synthetic linear regression, in pure Python.

Job processes load it through $LAB_JOB_MODULES=tests.test_jobs_kinds. Each step logs 3 + dim metrics; a
checkpoint (weights as JSON) is saved every `checkpoint_every` steps and on cancel; a resumed attempt starts
after the newest checkpoint, so the steps after it are replayed (and overwrite their metric rows).
"""

from __future__ import annotations

import errno
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.errors import LabError
from training.registry import JobContext, JobKind, register_kind

KIND = "linear_fit"
MODULE = "tests.test_jobs_kinds"
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LinearFitConfig:
    steps: int = field(default=200, metadata={"help": "SGD steps."})
    dim: int = field(default=8, metadata={"help": "Number of weights; metrics per step = 3 + dim."})
    batch: int = field(default=64, metadata={"help": "Examples per step (more = slower steps)."})
    lr: float = field(default=0.05, metadata={"help": "Learning rate."})
    seed: int = field(default=0, metadata={"help": "Seed of the data and of each step's minibatch."})
    checkpoint_every: int = field(default=10, metadata={"help": "Save weights every N steps."})
    honour_cancel: bool = field(default=True, metadata={"help": "False: never look at should_stop()."})
    disk_full_at: int = field(default=0, metadata={"help": "The checkpoint save at this step hits ENOSPC."})
    mark_attempts: bool = field(
        default=False,
        metadata={"help": "Log `attempt` each step; every 3rd step `extra` (attempt 1 only) and attempt-many samples."},
    )

    def validate(self) -> None:
        for name in ("steps", "dim", "batch", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise LabError(f"must be >= 1, got {getattr(self, name)}", field=name)


def _true_weights(config: LinearFitConfig) -> list[float]:
    rng = random.Random(config.seed)
    return [rng.uniform(-2, 2) for _ in range(config.dim)]


def _minibatch(config: LinearFitConfig, step: int, w_true: list[float]) -> tuple[list[list[float]], list[float]]:
    rng = random.Random(config.seed * 1_000_003 + step)
    xs = [[rng.gauss(0, 1) for _ in range(config.dim)] for _ in range(config.batch)]
    ys = [sum(a * b for a, b in zip(w_true, x, strict=True)) + rng.gauss(0, 0.1) for x in xs]
    return xs, ys


def _save(ctx: JobContext, step: int, w: list[float], disk_full_at: int = 0) -> None:
    with ctx.doing(f"saving checkpoint-{step}"):
        folder = ctx.work_dir / f"ckpt-{step}"
        folder.mkdir(parents=True, exist_ok=True)
        if step == disk_full_at:  # what a full disk does to the writer
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / "weights.json"))
        (folder / "weights.json").write_text(json.dumps({"step": step, "w": w}))
        ctx.register_checkpoint(step, folder, {"kind": KIND})


def run(config: LinearFitConfig, ctx: JobContext) -> dict[str, Any]:
    w_true = _true_weights(config)
    w = [0.0] * config.dim
    start = 1
    last = ctx.last_checkpoint()
    if last is not None:
        step, folder = last
        w = json.loads((folder / "weights.json").read_text())["w"]
        start = step + 1
    ctx.resume_from(start - 1)
    ctx.progress(start - 1, config.steps, "fitting")
    loss, done = math.nan, start - 1
    for step in range(start, config.steps + 1):
        if config.honour_cancel and ctx.should_stop():
            if done >= start:
                _save(ctx, done, w, config.disk_full_at)
            break
        xs, ys = _minibatch(config, step, w_true)
        errors = [sum(a * b for a, b in zip(w, x, strict=True)) - y for x, y in zip(xs, ys, strict=True)]
        grad = [2 * sum(e * x[i] for e, x in zip(errors, xs, strict=True)) / config.batch for i in range(config.dim)]
        loss = sum(e * e for e in errors) / config.batch
        w = [wi - config.lr * gi for wi, gi in zip(w, grad, strict=True)]
        values = {"loss": loss, "grad_norm": math.sqrt(sum(g * g for g in grad)), "lr": config.lr}
        values.update({f"w/{i}": wi for i, wi in enumerate(w)})
        if config.mark_attempts:  # what differs between attempts, so a test can tell which one wrote a row
            values["attempt"] = ctx.attempt
            if step % 3 == 0:
                values.update({"extra": 1.0} if ctx.attempt == 1 else {})
                sample = {"prompt": f"step {step}", "response": f"attempt {ctx.attempt}", "breakdown": {}}
                ctx.log_samples(step, [sample] * (3 - min(ctx.attempt, 2)))
        ctx.log_metrics(step, values)
        if step % config.checkpoint_every == 0 or step == config.steps:
            _save(ctx, step, w, config.disk_full_at)
        ctx.progress(step, config.steps, "fitting")
        done = step
    return {"steps_done": done, "final_loss": loss}


register_kind(JobKind(name=KIND, config_cls=LinearFitConfig, run=run, help="Test-only: SGD linear fit."))


# ---------------------------------------------------------------- helpers for the process tests


def job_env(**extra: str) -> dict[str, str]:
    """Environment for worker/CLI processes in tests: this kind loadable, fast heartbeats, one torch thread
    (the tiny model is slower with many threads on a shared 2-core machine)."""
    env = dict(os.environ)
    env.update(
        LAB_JOB_MODULES=MODULE,
        LAB_HEARTBEAT_S="0.5",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(ROOT),
        TOKENIZERS_PARALLELISM="false",
    )
    env.update(extra)
    return env


def start_worker(*args: str, **env: str) -> subprocess.Popen:
    """A real `python -m training.worker` for the current $LAB_HOME; its output goes to logs/worker-test.log."""
    log = open(Path(os.environ["LAB_HOME"]) / "worker-test.log", "ab")  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "training.worker", "--poll", "0.2", *args],
            cwd=ROOT,
            env=job_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll until predicate() is truthy; fail the test naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_linear_fit_learns_in_the_foreground(lab_home, monkeypatch) -> None:
    """The kind does real work: run through the CLI's foreground path, its loss falls by orders of magnitude."""
    from storage import checkpoints, metrics
    from training.jobs import run_in_foreground

    monkeypatch.setenv("LAB_JOB_MODULES", MODULE)
    job = run_in_foreground(KIND, {"steps": 60, "checkpoint_every": 25})
    assert job.status == "succeeded", job.error_message
    loss = metrics.metric_series(job.run_id, ["loss"])["loss"]
    assert loss.steps == tuple(range(1, 61))
    assert loss.values[-1] < loss.values[0] / 100
    assert [c.step for c in checkpoints.list_checkpoints(job.run_id)] == [60, 50, 25]
