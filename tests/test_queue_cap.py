"""LAB_MAX_QUEUED is counted and enforced in the inserting transaction: concurrent launches through the UI and
through CLI processes queue exactly up to the cap; a pipeline queues all its stages or none; `--force` passes."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import gradio as gr
import pytest

from lab.errors import LabError
from storage import jobs, runs
from tests.test_jobs_kinds import KIND, ROOT, job_env
from training.jobs import resume_job, submit_job

LAUNCHES = 12
CAP = 2


@pytest.fixture
def db(jobs_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAB_MAX_QUEUED", str(CAP))
    return jobs_db


def test_twelve_concurrent_ui_launches_with_cap_two_queue_exactly_two(db: Path) -> None:
    from ui import compare

    start = threading.Barrier(LAUNCHES)
    outcomes: list[str] = []

    def launch() -> None:
        start.wait()
        try:
            compare.on_evaluate(["bundled"], ["math-probe"], 5, 32, "")
            outcomes.append("queued")
        except gr.Error as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=launch) for _ in range(LAUNCHES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert outcomes.count("queued") == CAP, outcomes
    refusals = [o for o in outcomes if o != "queued"]
    assert len(refusals) == LAUNCHES - CAP and all(f"the cap is {CAP} (LAB_MAX_QUEUED)" in o for o in refusals)
    assert len(jobs.list_jobs(status="queued")) == CAP and len(runs.list_runs()) == CAP


def test_twelve_concurrent_cli_submits_with_cap_two_queue_exactly_two_unless_forced(db: Path) -> None:
    env = job_env(LAB_MAX_QUEUED=str(CAP))
    command = [sys.executable, "-m", "training", "submit", KIND, "--set", "steps=1"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(LAUNCHES)
    ]
    results = [(*p.communicate(timeout=300), p.returncode) for p in processes]
    assert sorted(code for _, _, code in results) == [0] * CAP + [2] * (LAUNCHES - CAP), results
    for _, err, code in results:
        if code:
            assert err.startswith("error: ") and f"the cap is {CAP} (LAB_MAX_QUEUED)" in err, err
    assert len(jobs.list_jobs(status="queued")) == CAP
    forced = subprocess.run(
        [*command, "--force"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert forced.returncode == 0, forced.stderr
    assert len(jobs.list_jobs(status="queued")) == CAP + 1


def test_resume_counts_against_the_cap(db: Path) -> None:
    first = submit_job(KIND, {"steps": 1})
    jobs.request_cancel(first.id)
    submit_job(KIND, {"steps": 1})
    submit_job(KIND, {"steps": 1})
    with pytest.raises(LabError) as error:
        resume_job(first.id)
    assert error.value.field == "queue"
    assert jobs.get_job(first.id).status == "cancelled" and len(jobs.list_jobs(run_id=first.run_id)) == 1
    assert resume_job(first.id, force=True).status == "queued"


def test_a_pipeline_queues_all_its_stages_or_none(db: Path, tiny_model_dir: Path, monkeypatch) -> None:
    from tests.test_training_pipeline import tiny_overrides
    from training.pipeline import submit_pipeline

    monkeypatch.setenv("LAB_MAX_QUEUED", "4")
    submit_job(KIND, {"steps": 1})
    submit_job(KIND, {"steps": 1})
    overrides = tiny_overrides(tiny_model_dir)
    with pytest.raises(LabError) as error:
        submit_pipeline("cpu-smoke", overrides=overrides)
    assert error.value.field == "queue" and "this adds 3; the cap is 4" in str(error.value)
    assert len(runs.list_runs()) == 2 and len(jobs.list_jobs()) == 2, "a refused pipeline stores nothing"
    queued = submit_pipeline("cpu-smoke", overrides=overrides, force=True)
    assert [j.status for j in queued] == ["queued"] * 3
