"""Presets and the dataset -> reward_model -> grpo pipeline, end to end through the real worker on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import LabError
from tests.recording_context import RecordingContext
from training.pipeline import STAGES, _parse_sets, list_presets, load_preset, stage_configs
from training.registry import get_kind, parse_config


def tiny_overrides(model: Path) -> dict[str, dict]:
    """cpu-smoke shrunk to the tiny model: a few seconds per stage."""
    return {
        "dataset": {"num_tasks": 4, "max_constraints": 2, "math_ratio": 0.2},
        "reward_model": {"policy": str(model), "init_from": str(model), "max_new_tokens": 12, "batch_size": 4},
        "grpo": {
            "model": str(model), "steps": 2, "prompts_per_step": 2, "group_size": 2, "max_completion_length": 8,
            "save_every": 1, "sample_every": 1, "samples_per_log": 2, "learning_rate": 1e-3,
        },
    }  # fmt: skip


def test_shipped_presets_are_valid_configs(tmp_path: Path, tiny_model_dir: Path) -> None:
    from training.dataset_job import run as run_dataset

    assert {"cpu-smoke", "cpu-30min", "cpu-rm-signal", "gpu-small"} <= set(list_presets())
    for name in ("cpu-smoke", "cpu-30min", "cpu-rm-signal", "gpu-small"):
        preset = load_preset(name)
        assert preset.description and set(preset.stages) == set(STAGES)
        dataset_config = parse_config(get_kind("dataset").config_cls, preset.config("dataset"))
        if name != "gpu-small":  # gpu-small uses every seed task: slow to build here, checked above
            smaller = parse_config(get_kind("dataset").config_cls, {**preset.config("dataset"), "num_tasks": 3})
            path = run_dataset(smaller, RecordingContext(tmp_path / name))["path"]
        assert dataset_config.max_constraints >= 1
        # Model fields point at the tiny model: the hub id of gpu-small cannot resolve offline.
        local = {"policy": str(tiny_model_dir), "init_from": str(tiny_model_dir), "model": str(tiny_model_dir)}
        rm = {**preset.config("reward_model"), "dataset": path}
        parse_config(get_kind("reward_model").config_cls, {**rm, **{k: v for k, v in local.items() if k in rm}})
        grpo = {**preset.config("grpo"), "dataset": path, "model": str(tiny_model_dir)}
        parse_config(get_kind("grpo").config_cls, {**grpo, "use_vllm": "off"})


def test_preset_and_set_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="unknown preset") as error:
        load_preset("no-such-preset")
    assert error.value.field == "preset"
    bad = tmp_path / "bad.yaml"
    bad.write_text("grpo: {}\ntraining: {}\n")
    with pytest.raises(LabError, match="unknown section 'training'"):
        load_preset(str(bad))
    with pytest.raises(LabError, match="STAGE.FIELD=VALUE"):
        _parse_sets(["steps=3"])
    assert _parse_sets(["grpo.steps=3", "dataset.include_types=[a, b]"]) == {
        "grpo": {"steps": 3},
        "dataset": {"include_types": ["a", "b"]},
    }
    with pytest.raises(LabError, match="unknown stage"):
        stage_configs(load_preset("cpu-smoke"), ["dataset", "eval"])


def test_a_bad_grpo_field_creates_no_run_and_no_job(db: Path, tiny_model_dir: Path) -> None:
    """Every stage is checked before anything is stored (earlier stages' runs are placeholders meanwhile)."""
    from storage import jobs, runs
    from training.pipeline import submit_pipeline

    overrides = tiny_overrides(tiny_model_dir)
    overrides["grpo"]["steps"] = 0
    for foreground in (False, True):
        with pytest.raises(LabError) as error:
            submit_pipeline("cpu-smoke", overrides=overrides, foreground=foreground)
        assert error.value.field == "grpo.steps" and str(error.value).startswith("grpo.steps: must be >= 1")
    assert runs.list_runs() == [] and jobs.list_jobs() == []


def test_queued_stages_name_the_runs_created_with_them(db: Path, tiny_model_dir: Path) -> None:
    from storage import jobs, runs
    from training.pipeline import submit_pipeline

    data, rm, grpo = submit_pipeline("cpu-smoke", overrides=tiny_overrides(tiny_model_dir), name="linked")
    assert [j.kind for j in (data, rm, grpo)] == list(STAGES) and data.run_id < rm.run_id < grpo.run_id
    assert rm.config["dataset"] == f"run:{data.run_id}"
    assert grpo.config["dataset"] == f"run:{data.run_id}" and grpo.config["reward_model"] == f"run:{rm.run_id}"
    assert runs.get_run(grpo.run_id).config == jobs.get_job(grpo.id).config
    assert runs.get_run(grpo.run_id).name == "linked: grpo"


def test_pipeline_through_the_real_worker(db: Path, tiny_model_dir: Path) -> None:
    """dataset -> RM -> 2 GRPO steps queued at once; the worker runs them in order; the checkpoint generates."""
    from lab.models import generate_batch, load_model
    from storage import checkpoints, datasets, jobs, metrics, samples
    from tests.test_jobs_kinds import start_worker, stop_process, wait_for
    from training.pipeline import submit_pipeline

    queued = submit_pipeline("cpu-smoke", overrides=tiny_overrides(tiny_model_dir))
    assert [j.kind for j in queued] == list(STAGES) and {j.status for j in queued} == {"queued"}
    worker = start_worker()
    try:
        finished = {"succeeded", "failed", "cancelled", "interrupted"}

        def all_done():
            current = [jobs.get_job(j.id) for j in queued]
            return current if all(j.status in finished for j in current) else None

        done = wait_for(all_done, timeout=600, what="the three pipeline jobs", interval=0.5)
    finally:
        stop_process(worker)
    assert [j.status for j in done] == ["succeeded"] * 3, [(j.kind, j.error_message) for j in done]
    data_run, rm_run, grpo_run = (j.run_id for j in done)
    (dataset,) = [d for d in datasets.list_datasets() if d.run_id == data_run]
    assert dataset.meta["levels"] == {"1": 4, "2": 4} and Path(dataset.path).is_file()
    (rm_checkpoint,) = checkpoints.list_checkpoints(rm_run)
    assert rm_checkpoint.meta["type"] == "reward_model" and "held_out_accuracy" in rm_checkpoint.meta
    assert "rm/held_out_accuracy" in metrics.metric_names(rm_run)
    policy = checkpoints.list_checkpoints(grpo_run)
    assert sorted(c.step for c in policy) == [1, 2]
    assert done[2].config["reward_model"] == f"run:{rm_run}"
    reward = metrics.metric_series(grpo_run, ["reward"])["reward"]
    assert reward.steps == (1, 2)
    assert any(name.startswith("constraints/") for name in metrics.metric_names(grpo_run))
    stored = samples.list_samples(grpo_run, limit=100)
    assert {s.step for s in stored} == {1, 2} and all(s.breakdown for s in stored)
    final = max(policy, key=lambda c: c.step)
    (text,) = generate_batch(load_model(final.path), ["Say hello."], max_new_tokens=4)
    assert isinstance(text, str)


def test_a_preset_can_leave_a_stage_out_by_default_and_says_why(db: Path, tmp_path: Path, capsys) -> None:
    import yaml

    from training.pipeline import default_stages_note, main_pipeline, plan_pipeline
    from ui.config_form import preset_stages

    data = yaml.safe_load((Path(__file__).parents[1] / "training/presets/cpu-smoke.yaml").read_text())
    data.update(default_stages=["dataset", "grpo"], default_stages_why="its reward model is noise here")
    path = tmp_path / "hard-default.yaml"
    path.write_text(yaml.safe_dump(data))
    preset = load_preset(str(path))
    assert preset.stages_to_run() == ["dataset", "grpo"] and preset_stages(str(path)) == ["dataset", "grpo"]
    assert [s.kind for s in plan_pipeline(preset)] == ["dataset", "grpo"]
    assert [s.kind for s in plan_pipeline(preset, STAGES)] == list(STAGES)  # naming them still runs them all
    note = default_stages_note(preset)
    assert "without reward_model: its reward model is noise here" in note
    assert "--stages dataset,reward_model,grpo" in note
    assert default_stages_note(load_preset("cpu-smoke")) == ""
    assert main_pipeline([str(path), "--set", "dataset.num_tasks=2"]) == 0
    assert "note: hard-default runs dataset, grpo by default" in capsys.readouterr().err
    data["default_stages"] = ["dataset", "evaluate"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(LabError, match="default_stages must list sections"):
        load_preset(str(path))
