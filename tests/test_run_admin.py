"""training/run_admin.py on real storage: the config diff the Runs screen shows, the metrics export the screen
downloads, and deleting a run (its rows and its own files; refused while one of its jobs is active)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.paths import runs_dir
from storage import checkpoints, datasets, jobs, metrics, samples
from storage.runs import get_run, list_runs
from tests.stored_runs import finished_job
from training import run_admin


@pytest.fixture
def lab(db: Path, tmp_path: Path) -> dict:
    """Run 1: a dataset with its file; run 2: GRPO on it with metrics, samples, a checkpoint and a log;
    run 3: another GRPO config; run 4: an evaluate run (another kind)."""
    data = finished_job("dataset", {"seed": 0, "num_tasks": 6}, "data")
    data_file = runs_dir() / f"run-{data.run_id}" / "datasets" / "rows.jsonl"
    data_file.parent.mkdir(parents=True)
    data_file.write_text('{"prompt": "hi"}\n')
    datasets.register_dataset("smoke", data_file, run_id=data.run_id, num_rows=1)
    grpo = finished_job(
        "grpo", {"dataset": f"run:{data.run_id}", "steps": 3, "lora": {"rank": 8, "alpha": 16}, "note": "é"}, "a"
    )
    for step, reward in ((1, 0.25), (2, 0.5), (3, float("nan"))):  # NaN is stored as NULL
        metrics.log_metrics(grpo.run_id, step, {"reward": reward, "kl": 0.125 * step})
    samples.add_samples(grpo.run_id, 3, [{"prompt": "p", "response": "r", "breakdown": {}, "reward": 0.5}])
    checkpoint = runs_dir() / f"run-{grpo.run_id}" / "grpo" / "checkpoint-3"
    checkpoint.mkdir(parents=True)
    (checkpoint / "adapter_model.safetensors").write_bytes(b"x" * 2000)
    checkpoints.register_checkpoint(grpo.run_id, 3, checkpoint)
    outside = tmp_path / "my_model"
    outside.mkdir()
    checkpoints.register_checkpoint(grpo.run_id, 1, outside)
    Path(grpo.log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(grpo.log_path).write_text("log\n")
    other = finished_job("grpo", {"dataset": f"run:{data.run_id}", "steps": 9, "lora": {"rank": 16, "alpha": 16}}, "b")
    evaluate = finished_job("evaluate", {"steps": 3, "limit": 5}, "c")
    return {"data": data, "grpo": grpo, "other": other, "evaluate": evaluate, "outside": outside}


def test_config_diff_lists_the_changed_fields_only(lab: dict) -> None:
    a, b, c = lab["grpo"].run_id, lab["other"].run_id, lab["evaluate"].run_id
    headers, rows = run_admin.config_diff([a, b])
    assert headers == ["field", f"run {a}", f"run {b}"]
    assert rows == [["lora.rank", "8", "16"], ["note", '"é"', "—"], ["steps", "3", "9"]]
    headers, rows = run_admin.config_diff([a, c])
    assert rows[0] == ["kind", '"grpo"', '"evaluate"'], "a kind that differs comes first"
    assert ["limit", "—", "5"] in rows and ["dataset", '"run:1"', "—"] in rows
    assert "steps" not in [row[0] for row in rows], "same value, not listed"
    assert run_admin.config_diff([a, a])[1] == []
    with pytest.raises(LabError, match="no run with id 99"):
        run_admin.config_diff([a, 99])


def test_the_runs_screen_shows_the_same_diff(lab: dict) -> None:
    from ui import run_overlay

    ids = [lab["grpo"].run_id, lab["other"].run_id, lab["evaluate"].run_id]
    assert run_overlay.config_diff(ids) == run_admin.config_diff(ids)


def test_metrics_export_csv_and_json(lab: dict) -> None:
    run_id = lab["grpo"].run_id
    text = run_admin.metrics_export(run_id, "csv")
    assert text.startswith("step,name,value\r\n")
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert sorted(table[1:]) == sorted(
        [["1", "kl", "0.125"], ["2", "kl", "0.25"], ["3", "kl", "0.375"]]
        + [["1", "reward", "0.25"], ["2", "reward", "0.5"], ["3", "reward", ""]]
    ), "a NULL value is an empty cell"
    assert json.loads(run_admin.metrics_export(run_id, "json")) == {
        "kl": {"steps": [1, 2, 3], "values": [0.125, 0.25, 0.375]},
        "reward": {"steps": [1, 2, 3], "values": [0.25, 0.5, None]},
    }
    out = run_admin.write_metrics_export(run_id, "csv", Path(lab["outside"]) / "m.csv")
    assert out.read_bytes() == text.encode("utf-8"), "written without newline translation"


def test_metrics_export_refusals(lab: dict, tmp_path: Path) -> None:
    with pytest.raises(LabError, match="^format: must be csv or json, got '../x'"):
        run_admin.metrics_export(lab["grpo"].run_id, "../x")
    with pytest.raises(LabError, match=f"run {lab['data'].run_id} has no stored metrics"):
        run_admin.metrics_export(lab["data"].run_id, "csv")
    with pytest.raises(LabError, match="no run with id 99"):
        run_admin.metrics_export(99, "json")
    target = tmp_path / "none.csv"
    with pytest.raises(LabError, match="no stored metrics"):
        run_admin.write_metrics_export(lab["data"].run_id, "csv", target)
    assert not target.exists(), "nothing is written for a run without metrics"
    with pytest.raises(LabError, match="^output: cannot write"):
        run_admin.write_metrics_export(lab["grpo"].run_id, "csv", tmp_path)  # a folder


def test_delete_plan_says_what_goes_and_what_stays(lab: dict) -> None:
    plan = run_admin.plan_delete(lab["grpo"].run_id)
    assert plan.active is None and plan.size_bytes >= 2000
    assert plan.files == [runs_dir() / f"run-{lab['grpo'].run_id}", Path(lab["grpo"].log_path).resolve()]
    assert plan.kept == [lab["outside"]]
    assert "2 file(s) / folder(s)" in plan.question() and "1 referenced file(s)" in plan.question()
    data_plan = run_admin.plan_delete(lab["data"].run_id)
    assert data_plan.dependants == [lab["grpo"].run_id, lab["other"].run_id]
    assert "Runs 2, 3 use its output" in data_plan.question()


def test_delete_removes_the_runs_rows_and_own_files(lab: dict) -> None:
    grpo = lab["grpo"]
    removed = run_admin.delete_run_with_files(grpo.run_id)
    assert len(removed) == 2
    assert not (runs_dir() / f"run-{grpo.run_id}").exists() and not Path(grpo.log_path).exists()
    assert lab["outside"].is_dir(), "a referenced folder outside the run's folder is kept"
    with pytest.raises(LabError, match="no run with id"):
        get_run(grpo.run_id)
    assert jobs.list_jobs(run_id=grpo.run_id) == []
    assert metrics.metric_series(grpo.run_id) == {} and samples.count_samples(grpo.run_id) == 0
    assert checkpoints.list_checkpoints(run_id=grpo.run_id) == []
    assert sorted(r.id for r in list_runs()) == [1, 3, 4], "the other runs stay"
    assert (runs_dir() / f"run-{lab['data'].run_id}" / "datasets" / "rows.jsonl").is_file()


def test_a_run_with_an_active_job_is_not_deleted(lab: dict) -> None:
    busy = jobs.create_job("grpo", {"steps": 1}, name="busy")
    folder = runs_dir() / f"run-{busy.run_id}"
    folder.mkdir()
    (folder / "partial.txt").write_text("x")
    plan = run_admin.plan_delete(busy.run_id)
    assert plan.active is not None and plan.active.id == busy.id
    assert plan.refusal("cancel it") == (
        f"Run {busy.run_id} (busy) is queued (job {busy.id}): cancel it; a run with an active job cannot be deleted."
    )
    with pytest.raises(LabError, match="active job"):
        run_admin.delete_run_with_files(busy.run_id)
    assert (folder / "partial.txt").is_file() and get_run(busy.run_id).id == busy.run_id
    assert jobs.get_job(busy.id).status == "queued"
