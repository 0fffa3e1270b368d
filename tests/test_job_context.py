"""The three JobContext implementations (storage-backed, multi-process relay, in-memory for tests) against the
protocol in training.registry: same members, same signatures; and a job declared lost cannot record results."""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import pytest

from storage import evaluations, jobs
from storage.models import JobStatus
from tests.recording_context import RecordingContext
from training.context import JobLostError, StorageJobContext
from training.grpo_launch import RelayContext
from training.registry import JobContext

IMPLEMENTATIONS = (StorageJobContext, RelayContext, RecordingContext)


def _protocol_members() -> dict[str, inspect.Signature]:
    members = {}
    for name, value in vars(JobContext).items():
        if name.startswith("_") or not callable(value):
            continue
        members[name] = inspect.signature(value)
    return members


def test_the_protocol_names_what_a_job_may_do() -> None:
    members = _protocol_members()
    assert {"progress", "log_metrics", "log_samples", "register_checkpoint", "record_evaluation"} <= set(members)
    assert set(JobContext.__annotations__) == {"job_id", "run_id", "work_dir", "attempt"}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda c: c.__name__)
def test_each_implementation_has_every_member_with_the_same_parameters(implementation: type) -> None:
    for name, expected in _protocol_members().items():
        method = getattr(implementation, name, None)
        assert callable(method), f"{implementation.__name__} lacks {name}"
        got = inspect.signature(method)
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
            (p.name, p.kind, p.default) for p in expected.parameters.values()
        ], f"{implementation.__name__}.{name}{got} differs from JobContext.{name}{expected}"


def _relay(tmp_path: Path) -> RelayContext:
    work = tmp_path / "run-1"
    relay = work / "dist"
    relay.mkdir(parents=True)
    (relay / "job.json").write_text(json.dumps({"job_id": 1, "run_id": 1, "attempt": 1, "work_dir": str(work)}))
    return RelayContext(relay)


def test_instances_carry_the_attributes(db: Path, tmp_path: Path) -> None:
    job = jobs.create_job("generate", {})
    storage_ctx = StorageJobContext(job, heartbeat_s=60)
    for ctx in (storage_ctx, _relay(tmp_path), RecordingContext(tmp_path / "rec")):
        assert isinstance(ctx.job_id, int) and isinstance(ctx.run_id, int) and isinstance(ctx.attempt, int)
        assert isinstance(ctx.work_dir, Path)


def test_a_running_job_records_an_evaluation_after_its_samples(db: Path) -> None:
    jobs.create_job("evaluate", {})
    job = jobs.claim_next_job(os.getpid())
    assert job is not None and job.status == JobStatus.RUNNING
    ctx = StorageJobContext(job, heartbeat_s=60)
    ctx.log_samples(0, [{"prompt": "p", "response": "r", "breakdown": {}}])
    evaluation_id = ctx.record_evaluation("bundled", "heldout-if", {"status": "complete"})
    stored = evaluations.get_evaluation(evaluation_id)
    assert (stored.run_id, stored.model, stored.suite) == (job.run_id, "bundled", "heldout-if")
    from storage.samples import samples_at

    assert [s.response for s in samples_at(job.run_id, 0)] == ["r"], "the buffered samples were written first"


def test_a_job_declared_lost_cannot_record_an_evaluation(db: Path) -> None:
    jobs.create_job("evaluate", {})
    job = jobs.claim_next_job(os.getpid())
    assert job is not None
    ctx = StorageJobContext(job, heartbeat_s=60)
    # What recovery does to a job whose process it thinks died.
    assert jobs.mark_interrupted(job.id, "process gone", jobs.get_job(job.id).heartbeat_at)
    with pytest.raises(JobLostError):
        ctx.record_evaluation("bundled", "heldout-if", {"status": "complete"})
    assert evaluations.list_evaluations() == []
    assert ctx.should_stop()
