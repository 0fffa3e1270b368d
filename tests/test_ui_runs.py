"""The Runs screen's logic on real storage: table with headline metrics, filter and sort, details, config diff,
exports, and delete (rows and the run's files inside $LAB_HOME; never files outside it)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import gradio as gr
import pytest

from lab.errors import LabError
from lab.paths import runs_dir
from storage import checkpoints, datasets, jobs, metrics, samples
from tests.stored_runs import finished_job
from training import run_admin
from ui import run_overlay as ov
from ui import run_table as rt
from ui import runs


@pytest.fixture
def lab(db: Path, tmp_path: Path) -> dict:
    """A dataset run with its file, and a GRPO run with metrics, samples, a checkpoint and a log."""
    data = finished_job("dataset", {"seed": 0, "num_tasks": 6}, "smoke: dataset")
    data_file = runs_dir() / f"run-{data.run_id}" / "datasets" / "rows.jsonl"
    data_file.parent.mkdir(parents=True)
    data_file.write_text('{"prompt": "hi"}\n')
    datasets.register_dataset("smoke", data_file, run_id=data.run_id, num_rows=20)

    grpo = finished_job("grpo", {"dataset": f"run:{data.run_id}", "steps": 3, "lora": {"rank": 8}}, "smoke: grpo")
    for step, reward in ((1, 0.2), (2, 0.5), (3, 0.4)):
        metrics.log_metrics(grpo.run_id, step, {"reward": reward, "kl": 0.01 * step})
    samples.add_samples(grpo.run_id, 3, [{"prompt": "p", "response": "<b>r</b>", "breakdown": {}, "reward": 0.4}])
    folder = runs_dir() / f"run-{grpo.run_id}" / "grpo" / "checkpoint-3"
    folder.mkdir(parents=True)
    (folder / "adapter_model.safetensors").write_bytes(b"x" * 1000)
    checkpoints.register_checkpoint(grpo.run_id, 3, folder)
    outside = tmp_path / "my_own_model"
    outside.mkdir()
    checkpoints.register_checkpoint(grpo.run_id, 1, outside)  # registered, but not the lab's to delete
    Path(grpo.log_path).parent.mkdir(parents=True, exist_ok=True)
    Path(grpo.log_path).write_text("log\n")
    failed = finished_job(
        "grpo", {"dataset": f"run:{data.run_id}", "steps": 9, "lora": {"rank": 16}}, "other", "failed"
    )
    return {"data": data, "grpo": grpo, "failed": failed, "folder": folder, "outside": outside}


def test_table_headlines_filters_and_sorts(lab: dict) -> None:
    rows = rt.run_rows()
    assert [r.run.id for r in rows] == [3, 2, 1], "newest first"
    cells = {r.run.id: r.cells() for r in rows}
    assert cells[2][7] == "reward 0.400 @ step 3" and cells[1][7] == "smoke v1: 20 rows"
    assert cells[2][3] == "succeeded" and cells[3][3] == "failed" and cells[2][6] == 1
    assert [r.run.id for r in rt.run_rows(kind="grpo")] == [3, 2]
    assert [r.run.id for r in rt.run_rows(status="failed")] == [3]
    assert [r.run.id for r in rt.run_rows(search="SMOKE")] == [2, 1]
    assert [r.run.id for r in rt.run_rows(sort="best headline")][0] == 1, "20 rows beats reward 0.4"
    assert [r.run.id for r in rt.run_rows(sort="name")] == [3, 1, 2]
    with pytest.raises(LabError, match="sort"):
        rt.run_rows(sort="random")


def test_details_and_config_diff(lab: dict) -> None:
    header, _, _, config, job_rows, latest, pick, _, checkpoint_rows, error, *panels = runs.on_open(lab["grpo"].run_id)
    assert header.startswith(f"Run {lab['grpo'].run_id} · grpo")
    assert config["steps"] == 3 and job_rows[0][2] == "succeeded"
    assert [row[0] for row in latest] == ["reward", "kl"]  # the headline curves first
    assert {row[0]: row[2] for row in latest} == {"kl": "0.03", "reward": "0.4"}
    assert pick["value"] == ["reward"]
    assert [row[1] for row in checkpoint_rows] == [1, 3]
    headers, rows = ov.config_diff([lab["grpo"].run_id, lab["failed"].run_id])
    assert headers[1:] == [f"run {lab['grpo'].run_id}", f"run {lab['failed'].run_id}"]
    assert rows == [["lora.rank", "8", "16"], ["steps", "3", "9"]]
    assert (headers, rows) == run_admin.config_diff([lab["grpo"].run_id, lab["failed"].run_id]), "the CLI's diff"
    with pytest.raises(gr.Error, match="open a run"):
        runs.on_open(None)


def test_exports(lab: dict) -> None:
    run_id = lab["grpo"].run_id
    with open(rt.export_metrics(run_id, "csv"), newline="") as handle:
        table = list(csv.reader(handle))
    assert table[0] == ["step", "name", "value"] and ["2", "reward", "0.5"] in table and len(table) == 7
    data = json.loads(Path(rt.export_metrics(run_id, "json")).read_text())
    assert data["reward"] == {"steps": [1, 2, 3], "values": [0.2, 0.5, 0.4]}
    for fmt in ("csv", "json"):  # the download is the CLI's export-metrics text, byte for byte
        assert Path(rt.export_metrics(run_id, fmt)).read_bytes() == run_admin.metrics_export(run_id, fmt).encode()
    with pytest.raises(LabError, match="must be csv or json"):
        rt.export_metrics(run_id, "../../x")
    lines = Path(rt.export_samples(run_id)).read_text().splitlines()
    assert [json.loads(line)["response"] for line in lines] == ["<b>r</b>"]
    with pytest.raises(LabError, match="no stored samples"):
        rt.export_samples(lab["data"].run_id)
    assert runs.on_checkpoint_path(run_id) == str(lab["folder"])


def test_delete_removes_rows_and_the_runs_own_files_only(lab: dict) -> None:
    grpo, data = lab["grpo"], lab["data"]
    plan = rt.delete_plan(data.run_id)
    assert "Runs 2, 3 use its output" in plan
    plan = rt.delete_plan(grpo.run_id)
    assert "2 file(s)" in plan, plan  # the run folder (holding the checkpoint) and the job log
    rt.delete_run_with_files(grpo.run_id)
    assert not (runs_dir() / f"run-{grpo.run_id}").exists() and not Path(grpo.log_path).exists()
    assert lab["outside"].is_dir(), "a folder outside $LAB_HOME is never deleted"
    assert metrics.metric_series(grpo.run_id) == {} and checkpoints.list_checkpoints(grpo.run_id) == []
    assert [r.run.id for r in rt.run_rows()] == [3, 1]


def test_delete_is_refused_while_a_job_runs_and_in_read_only_mode(lab: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    active = jobs.create_job("grpo", {}, name="busy")
    assert rt.delete_plan(active.run_id).endswith(
        f"is queued (job {active.id}): cancel it in the Train tab first; a run with an active job cannot be deleted."
    )
    with pytest.raises(gr.Error, match="active job"):
        runs.on_confirm_delete(active.run_id)
    monkeypatch.setenv("LAB_READ_ONLY", "1")
    with pytest.raises(gr.Error, match="read-only"):
        runs.on_confirm_delete(lab["grpo"].run_id)
    assert (runs_dir() / f"run-{lab['grpo'].run_id}").exists()
