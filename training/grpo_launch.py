"""Multi-process grpo: the job process re-launches the training under `accelerate launch --num_processes N`
(one rank per GPU; without CUDA, CPU ranks in a gloo group).

Each rank trains with a RelayContext; rank 0 appends its metrics, samples, progress and checkpoints to
run-N/dist/events.jsonl, which the job process forwards to storage. Cancel reaches the ranks as a STOP file.
Equivalent by hand: `accelerate launch --multi_gpu --num_processes N -m training.grpo_launch RUN_DIR/dist`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import Any

from lab.errors import LabError
from training.registry import JobContext

ROOT = Path(__file__).resolve().parent.parent
EVENTS, STOP, RESULT, JOB = "events.jsonl", "STOP", "result.json", "job.json"


class RelayContext:
    """JobContext for a rank: rank 0 writes events for the job process; every rank reads STOP."""

    def __init__(self, relay: Path) -> None:
        job = json.loads((relay / JOB).read_text(encoding="utf-8"))
        self.relay = relay
        self.job_id, self.run_id, self.attempt = job["job_id"], job["run_id"], job["attempt"]
        self.work_dir = Path(job["work_dir"])
        self._last_checkpoint = job.get("last_checkpoint")
        self._main = int(os.environ.get("RANK", "0")) == 0

    def _emit(self, kind: str, **payload: Any) -> None:
        if self._main:
            with (self.relay / EVENTS).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"kind": kind, **payload}, default=str) + "\n")

    def progress(self, current: int, total: int, message: str = "") -> None:
        self._emit("progress", current=current, total=total, message=message)

    def log_metrics(self, step: int, values: Mapping[str, float]) -> None:
        self._emit("metrics", step=step, values=dict(values))

    def log_samples(self, step: int, samples: list[Mapping[str, Any]]) -> None:
        self._emit("samples", step=step, samples=[dict(s) for s in samples])

    def register_checkpoint(self, step: int, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        self._emit("checkpoint", step=step, path=str(path), meta=dict(meta or {}))
        return 0  # the job process registers it and knows the id

    def register_dataset(self, name: str, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        raise NotImplementedError("grpo ranks do not register datasets")

    def record_evaluation(
        self, model: str, suite: str, results: Mapping[str, Any], checkpoint_id: int | None = None
    ) -> int:
        raise NotImplementedError("grpo ranks do not record evaluations")

    def last_checkpoint(self) -> tuple[int, Path] | None:
        return (self._last_checkpoint[0], Path(self._last_checkpoint[1])) if self._last_checkpoint else None

    def last_metric_step(self) -> int | None:
        return None

    def resume_from(self, step: int) -> None:
        self._emit("resume_from", step=int(step))

    def doing(self, what: str) -> AbstractContextManager[None]:
        return nullcontext()

    def resume_state(self) -> Mapping[str, Any]:
        return {}

    def save_state(self, state: Mapping[str, Any]) -> None:
        pass

    def should_stop(self) -> bool:
        """STOP seen by any rank stops every rank at the same step: a rank leaving alone would leave the others
        waiting in a collective. Collective itself, so every rank calls it at the same points (on_step_end)."""
        stop = (self.relay / STOP).exists()
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            import torch

            device = "cpu" if "gloo" in str(dist.get_backend()) else f"cuda:{torch.cuda.current_device()}"
            flag = torch.tensor([int(stop)], device=device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            stop = bool(flag.item())
        return stop


def forward_events(path: Path, offset: int, ctx: JobContext, checkpoint_ids: list[int] | None = None) -> int:
    """Send complete event lines after byte `offset` to the real context; return the new offset.
    Ids of the checkpoints registered are appended to `checkpoint_ids`."""
    if not path.is_file():
        return offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
    for line in data[:end].splitlines():
        event = json.loads(line)
        kind = event["kind"]
        if kind == "progress":
            ctx.progress(event["current"], event["total"], event["message"])
        elif kind == "metrics":
            ctx.log_metrics(event["step"], event["values"])
        elif kind == "samples":
            ctx.log_samples(event["step"], event["samples"])
        elif kind == "resume_from":
            ctx.resume_from(event["step"])
        elif kind == "checkpoint":
            checkpoint_id = ctx.register_checkpoint(event["step"], Path(event["path"]), event["meta"])
            if checkpoint_ids is not None:
                checkpoint_ids.append(checkpoint_id)
    return offset + end


def launch_command(num_processes: int, relay: Path) -> list[str]:
    """One rank per GPU; without CUDA, ranks on CPU in a gloo group (each with its share of the cores)."""
    import torch

    cuda = torch.cuda.is_available()
    if cuda and num_processes > torch.cuda.device_count():
        raise LabError(
            f"{num_processes} processes but {torch.cuda.device_count()} GPU(s) here: one process per GPU",
            "num_processes",
        )
    command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes)]
    command += ["--num_machines", "1", "--mixed_precision", "bf16" if cuda else "no"]
    if num_processes > 1:
        # accelerate's torchrun launcher (its only multi-process one on one machine); port 0 = any free port.
        command += ["--multi_gpu", "--main_process_port", "0"]
        if not cuda:
            command += ["--num_cpu_threads_per_process", str(max(1, (os.cpu_count() or 1) // num_processes))]
    return command + ["-m", "training.grpo_launch", str(relay)]


def run_distributed(config: Any, ctx: JobContext, poll_s: float = 1.0) -> dict[str, Any]:
    relay = Path(ctx.work_dir) / "dist"
    relay.mkdir(parents=True, exist_ok=True)
    for name in (EVENTS, STOP, RESULT, *(p.name for p in relay.glob("rank*.json"))):
        (relay / name).unlink(missing_ok=True)
    last = ctx.last_checkpoint()
    job = {
        "config": asdict(config), "job_id": ctx.job_id, "run_id": ctx.run_id, "attempt": ctx.attempt,
        "work_dir": str(ctx.work_dir), "last_checkpoint": [last[0], str(last[1])] if last else None,
    }  # fmt: skip
    (relay / JOB).write_text(json.dumps(job), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(launch_command(config.num_processes, relay), cwd=ROOT, env=env)
    offset = 0
    checkpoint_ids: list[int] = []
    try:
        while process.poll() is None:
            offset = forward_events(relay / EVENTS, offset, ctx, checkpoint_ids)
            if ctx.should_stop():
                (relay / STOP).touch()
            time.sleep(poll_s)
    finally:
        if process.poll() is None:  # the job process is going away: let the ranks save and stop
            (relay / STOP).touch()
            process.wait()
    forward_events(relay / EVENTS, offset, ctx, checkpoint_ids)
    if process.returncode != 0:
        raise RuntimeError(f"accelerate launch exited with status {process.returncode}; see the job log above")
    result = json.loads((relay / RESULT).read_text(encoding="utf-8"))
    return {**result, "checkpoints": checkpoint_ids, "num_processes": config.num_processes}


def main(argv: list[str] | None = None) -> int:
    from training.grpo_job import GRPOJobConfig, train

    relay = Path((argv or sys.argv[1:])[0])
    ctx = RelayContext(relay)
    config = GRPOJobConfig(**json.loads((relay / JOB).read_text(encoding="utf-8"))["config"])
    result = train(config, ctx)
    rank = int(os.environ.get("RANK", "0"))
    if rank == 0:
        (relay / RESULT).write_text(json.dumps(result, default=str), encoding="utf-8")
    (relay / f"rank{rank}.json").write_text(json.dumps(rank_report(result)), encoding="utf-8")
    return 0


def rank_report(result: dict[str, Any]) -> dict[str, Any]:
    """What this rank did, for the job log and the multi-process test: its group, its steps."""
    import torch.distributed as dist

    group = dist.is_available() and dist.is_initialized()
    return {
        "rank": int(os.environ.get("RANK", "0")),
        "world_size": dist.get_world_size() if group else 1,
        "backend": str(dist.get_backend()) if group else None,
        "steps": result.get("steps"),
        "stopped": result.get("stopped"),
    }


if __name__ == "__main__":
    sys.exit(main())
