"""An in-memory JobContext for unit tests of job kinds (the storage-backed one is tested through the worker)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any


class RecordingContext:
    """Keeps everything a job reports; `stop_after_progress` makes should_stop() turn true after N progress calls."""

    def __init__(self, work_dir: Path, attempt: int = 1, stop_after_progress: int | None = None) -> None:
        self.job_id = 1
        self.run_id = 1
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.attempt = attempt
        self.metrics: dict[int, dict[str, float]] = {}
        self.samples: dict[int, list[Mapping[str, Any]]] = {}
        self.checkpoints: list[tuple[int, Path, dict[str, Any]]] = []
        self.datasets: list[tuple[str, Path, dict[str, Any]]] = []
        self.evaluations: list[tuple[str, str, dict[str, Any], int | None]] = []
        self.progress_calls: list[tuple[int, int, str]] = []
        self.state: dict[str, Any] = {}
        self.stop_after_progress = stop_after_progress

    def progress(self, current: int, total: int, message: str = "") -> None:
        self.progress_calls.append((current, total, message))

    def log_metrics(self, step: int, values: Mapping[str, float]) -> None:
        self.metrics.setdefault(int(step), {}).update({k: float(v) for k, v in values.items()})

    def log_samples(self, step: int, samples: list[Mapping[str, Any]]) -> None:
        self.samples[int(step)] = list(samples)

    def register_checkpoint(self, step: int, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        self.checkpoints = [c for c in self.checkpoints if c[0] != step] + [(int(step), Path(path), dict(meta or {}))]
        return len(self.checkpoints)

    def register_dataset(self, name: str, path: Path, meta: Mapping[str, Any] | None = None) -> int:
        self.datasets.append((name, Path(path), dict(meta or {})))
        return len(self.datasets)

    def record_evaluation(
        self, model: str, suite: str, results: Mapping[str, Any], checkpoint_id: int | None = None
    ) -> int:
        self.evaluations.append((model, suite, dict(results), checkpoint_id))
        return len(self.evaluations)

    def last_checkpoint(self) -> tuple[int, Path] | None:
        if not self.checkpoints:
            return None
        step, path, _ = max(self.checkpoints, key=lambda c: c[0])
        return step, path

    def last_metric_step(self) -> int | None:
        return max(self.metrics) if self.metrics else None

    def resume_from(self, step: int) -> None:
        self.metrics = {s: v for s, v in self.metrics.items() if s <= step}
        self.samples = {s: v for s, v in self.samples.items() if s <= step}

    def doing(self, what: str) -> AbstractContextManager[None]:
        return nullcontext()

    def resume_state(self) -> Mapping[str, Any]:
        return dict(self.state)

    def save_state(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)

    def should_stop(self) -> bool:
        return self.stop_after_progress is not None and len(self.progress_calls) >= self.stop_after_progress
