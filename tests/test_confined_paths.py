"""Names from configs that become file names are slugs, every path a job registers stays in its run folder,
and deleting a run removes its own folder and logs only, whatever its rows point at."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.paths import check_slug, confined, lab_home, logs_dir, models_dir, runs_dir
from storage import checkpoints, datasets, jobs
from training.context import StorageJobContext
from training.jobs import run_in_foreground, submit_job
from ui import run_table as rt


def _all_files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "..", "a/b", ".hidden", "-flag", "a..b", "", "x" * 101])
def test_a_dataset_name_that_is_not_a_slug_is_refused_at_submit(db, tmp_path, name) -> None:
    before = _all_files(tmp_path)
    with pytest.raises(LabError) as error:
        submit_job("dataset", {"name": name, "num_tasks": 2})
    assert error.value.field == "name"
    assert str(error.value).startswith("name: must be 1-100 letters, digits, '.', '_' or '-'")
    with pytest.raises(LabError, match="^name: "):
        run_in_foreground("dataset", {"name": name, "num_tasks": 2})
    assert jobs.list_jobs() == [] and list(runs_dir().iterdir()) == []
    assert {p for p in _all_files(tmp_path) - before if not p.is_relative_to(lab_home())} == set()


def test_slugs() -> None:
    for good in ("curriculum", "smoke-curriculum", "v1.2_final", "A", "0" * 100):
        assert check_slug(good, "name") == good
    with pytest.raises(LabError, match="^export: .*got '../x'"):
        check_slug("../x", "export")


def test_confined_follows_links(tmp_path) -> None:
    root = tmp_path / "run-1"
    (root / "sub").mkdir(parents=True)
    (root / "out").symlink_to(tmp_path)
    assert confined(root / "sub" / "f.jsonl", root) == (root / "sub" / "f.jsonl").resolve()
    for escape in (root / ".." / "x", root / "out" / "x", Path("/tmp/x")):
        with pytest.raises(LabError, match="outside"):
            confined(escape, root)


def test_a_job_registers_only_paths_inside_its_run_folder(db, tmp_path) -> None:
    job = jobs.create_job("dataset", {}, claim_pid=os.getpid())
    ctx = StorageJobContext(job)
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text("{}\n")
    for register in (
        lambda p: ctx.register_dataset("d", p),
        lambda p: ctx.register_checkpoint(1, p),
    ):
        for path in (outside, ctx.work_dir / ".." / "elsewhere.jsonl", models_dir()):
            with pytest.raises(LabError, match="outside"):
                register(path)
    inside = ctx.work_dir / "datasets" / "d.jsonl"
    inside.parent.mkdir()
    inside.write_text("{}\n")
    assert ctx.register_dataset("d", inside) > 0
    assert [d.path for d in datasets.list_datasets()] == [str(inside.resolve())]
    assert checkpoints.list_checkpoints() == []


def test_a_built_dataset_lands_in_the_run_folder(jobs_db) -> None:
    job = run_in_foreground("dataset", {"name": "tiny.set", "num_tasks": 2, "max_constraints": 2})
    assert job.status == "succeeded", job.error_message
    path = Path(datasets.list_datasets()[0].path)
    assert path.parent == (runs_dir() / f"run-{job.run_id}" / "datasets").resolve()
    assert path.name.startswith("tiny.set-")


def test_delete_leaves_shared_folders_a_row_points_at(db) -> None:
    """Rows of the run point at a shared model folder, another run's folder and $LAB_HOME itself."""
    keep = jobs.create_job("dataset", {}, name="other run")
    jobs.claim_next_job(worker_pid=999)
    jobs.finish_job(keep.id, "succeeded")
    victim = jobs.create_job("grpo", {}, name="victim")
    jobs.claim_next_job(worker_pid=999)
    jobs.finish_job(victim.id, "failed")
    shared = models_dir() / "shared-model"
    shared.mkdir()
    (shared / "config.json").write_text("{}")
    other_folder = runs_dir() / f"run-{keep.run_id}"
    (other_folder / "datasets").mkdir(parents=True)
    (other_folder / "datasets" / "rows.jsonl").write_text("{}\n")
    own = runs_dir() / f"run-{victim.run_id}" / "grpo" / "checkpoint-2"
    own.mkdir(parents=True)
    checkpoints.register_checkpoint(victim.run_id, 1, shared)
    checkpoints.register_checkpoint(victim.run_id, 2, own)
    checkpoints.register_checkpoint(victim.run_id, 3, other_folder)
    checkpoints.register_checkpoint(victim.run_id, 4, lab_home())
    datasets.register_dataset("shared", lab_home(), run_id=victim.run_id)
    datasets.register_dataset("stolen", other_folder / "datasets" / "rows.jsonl", run_id=victim.run_id)
    Path(victim.log_path).write_text("log\n")
    (logs_dir() / "worker.log").write_text("worker\n")

    plan = rt.delete_plan(victim.run_id)
    assert "2 file(s) / folder(s)" in plan and "4 referenced file(s) / folder(s) outside" in plan, plan
    rt.delete_run_with_files(victim.run_id)
    assert not (runs_dir() / f"run-{victim.run_id}").exists() and not Path(victim.log_path).exists()
    assert (shared / "config.json").is_file()
    assert (other_folder / "datasets" / "rows.jsonl").is_file()
    assert (lab_home() / "lab.sqlite").is_file() and (logs_dir() / "worker.log").is_file()
