"""The Train screen's logic without a browser: the config form covers every field and round-trips, the CLI
command is exactly what Launch queues, the job view reads storage (auto-follow, progress, log tail, linked
runs), cancel takes waiting stages along, and read-only mode and the queue cap refuse launches."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import gradio as gr
import pytest

from lab.errors import LabError
from storage import jobs as job_store
from training.pipeline import STAGES, _parse_sets
from training.registry import get_kind
from ui import config_form as form
from ui import job_view as jv
from ui import settings, train


def test_the_form_has_every_field_of_every_stage_and_round_trips() -> None:
    specs = form.all_fields()
    for stage in STAGES:
        names = [f.name for f in dataclasses.fields(get_kind(stage).config_cls)]
        assert [s.name for s in specs if s.stage == stage] == names
    for spec in specs:
        assert spec.help, f"{spec.stage}.{spec.name} has no help text"
        assert form.parse(spec, form.display(spec, spec.default)) == spec.default, spec


def test_preset_values_fill_the_form() -> None:
    from training.pipeline import load_preset

    preset = load_preset("cpu-smoke")
    values = form.preset_values("cpu-smoke")
    for stage in STAGES:
        section = preset.config(stage)
        assert section, f"cpu-smoke has a {stage} section"
        for spec in form.stage_fields(stage):
            expected = section.get(spec.name, spec.default)  # fields the preset leaves out keep their default
            assert values[stage][spec.name] == expected, (stage, spec.name)
    assert form.preset_stages("cpu-smoke") == list(STAGES)
    with pytest.raises(LabError, match="unknown preset"):
        form.preset_values("no-such-preset")


def _raw(changes: dict[tuple[str, str], object]) -> tuple[list[form.FieldSpec], list[object]]:
    specs = form.all_fields()
    base = form.preset_values("cpu-smoke")
    raw = [form.display(s, changes.get((s.stage, s.name), base[s.stage][s.name])) for s in specs]
    return specs, raw


def test_the_cli_command_sets_exactly_the_changed_fields() -> None:
    changes = {
        ("dataset", "name"): "123",  # a string YAML would read as a number
        ("dataset", "include_types"): ["punctuation:no_comma", "keywords:existence"],
        ("reward_model", "policy"): "/models/my policy",  # a path with a space
        ("grpo", "learning_rate"): 0.0003,
        ("grpo", "lora"): False,
        ("grpo", "steps"): 7,
        ("grpo", "reward_model"): "",  # unchanged (the preset leaves it empty): not in the command
    }
    specs, raw = _raw(changes)
    overrides = form.overrides("cpu-smoke", list(STAGES), specs, raw)
    assert overrides == {
        "dataset": {"name": "123", "include_types": ["punctuation:no_comma", "keywords:existence"]},
        "reward_model": {"policy": "/models/my policy"},
        "grpo": {"learning_rate": 0.0003, "lora": False, "steps": 7},
    }
    command = form.cli_command("cpu-smoke", list(STAGES), overrides, name="my run")
    words = shlex.split(command)
    assert words[:5] == ["python", "-m", "training", "pipeline", "cpu-smoke"]
    assert words[words.index("--stages") + 1] == "dataset,reward_model,grpo"
    assert words[words.index("--name") + 1] == "my run"
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    assert _parse_sets(sets) == overrides, "the pipeline CLI must read back exactly what Launch sends"
    only_grpo = form.overrides("cpu-smoke", ["grpo"], specs, raw)
    assert set(only_grpo) == {"grpo"}, "fields of stages that don't run are not sent"


def test_launch_queues_the_linked_pipeline_and_the_view_follows_it(db: Path) -> None:
    specs, raw = _raw({("grpo", "steps"): 2})
    message, command = train.on_launch("cpu-smoke", list(STAGES), "", specs, *raw)
    assert message.startswith("Queued dataset = job 1") and "grpo.steps=2" in command
    queued = job_store.list_jobs(status="queued")
    assert sorted(j.kind for j in queued) == sorted(STAGES)
    grpo = next(j for j in queued if j.kind == "grpo")
    assert grpo.config["steps"] == 2
    assert jv.linked_runs(grpo.run_id) == {"grpo": grpo.run_id, "dataset": 1, "reward_model": 2}

    watched = jv.watched_job(jv.AUTO)
    assert watched is not None and watched.kind == "dataset", "auto follows the job that runs next"
    text = jv.progress_of(watched).text
    assert text.startswith("job 1 · dataset · queued · waiting for the worker") and "python -m training.worker" in text
    assert [v for _, v in jv.watch_choices()][:2] == [jv.AUTO, str(grpo.id)]

    # Cancelling the first stage also cancels the stages waiting for its output.
    assert "and 2 queued stage(s)" in train.on_cancel(jv.AUTO)
    assert {j.status for j in job_store.list_jobs()} == {"cancelled"}
    # Resume makes a new attempt of the watched job, with the same config.
    assert train.on_resume(str(grpo.id)).startswith(f"Resuming job {grpo.id} as job 4 (attempt 2)")
    assert not train.job_is_newest(job_store.get_job(grpo.id))
    again = job_store.get_job(4)
    assert again.status == "queued" and again.config == grpo.config and again.run_id == grpo.run_id


def test_read_only_and_the_queue_cap_refuse_launches(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs, raw = _raw({})
    monkeypatch.setenv("LAB_READ_ONLY", "1")
    with pytest.raises(gr.Error, match="read-only"):
        train.on_launch("cpu-smoke", list(STAGES), "", specs, *raw)
    with pytest.raises(gr.Error, match="read-only"):
        train.on_cancel(jv.AUTO)
    assert job_store.list_jobs() == []
    monkeypatch.delenv("LAB_READ_ONLY")
    monkeypatch.setenv("LAB_MAX_QUEUED", "4")
    train.on_launch("cpu-smoke", list(STAGES), "", specs, *raw)
    with pytest.raises(gr.Error, match="cap is 4"):
        train.on_launch("cpu-smoke", list(STAGES), "", specs, *raw)
    assert len(job_store.list_jobs()) == 3, "a refused launch queues nothing"
    with pytest.raises(gr.Error, match="stages"):
        train.on_launch("cpu-smoke", [], "", specs, *raw)


def test_progress_of_a_running_job_and_its_log_tail(db: Path) -> None:
    job = job_store.create_job("grpo", {"steps": 4})
    claimed = job_store.claim_next_job(worker_pid=4242)
    assert claimed is not None and claimed.id == job.id
    assert job_store.report_progress(job.id, 4242, 2, 4, "GRPO step 2/4", eta_seconds=75.0)
    running = job_store.get_job(job.id)
    progress = jv.progress_of(running, now=running.started_at + 61)
    assert progress.fraction == 0.5
    # The ETA counts down from the report (75 s) by the 61 s since: 0:14, not a frozen 1:15.
    assert progress.text == "job 1 · grpo · running · step 2/4 (50 %) · elapsed 1:01 · ETA 0:14 · GRPO step 2/4"
    assert "width:50.0%" in jv.progress_bar_html(progress, "running")

    log = Path(running.log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"line {i}\n" for i in range(100)) + "bar 10%\rbar 50%\rbar 100%\n")
    tail = jv.log_tail(running, lines=3).splitlines()
    assert tail == ["line 98", "line 99", "bar 100%"]

    job_store.finish_job(job.id, "failed", error_message="CUDA out of memory")
    failed = job_store.get_job(job.id)
    assert "CUDA out of memory" in jv.progress_of(failed).text
    assert train.job_cli(failed).startswith(f"python -m training logs {job.id}")


def test_refresh_redraws_charts_only_when_storage_changed(db: Path) -> None:
    from storage.metrics import log_metrics

    job = job_store.create_job("grpo", {})
    HEAD = 10  # noqa: N806
    first = train.refresh(jv.AUTO, None, 0.0)
    key = first[-1]
    charts = first[HEAD:-3]  # progress, stages, preview, buttons, log, queue; then charts, note, samples, key
    # No metrics yet: no empty plot frames, the charts stay hidden and the note says what will fill them.
    assert len(charts) == 5 and all(c.get("visible") is False for c in charts)
    assert first[-3]["visible"] is True
    again = train.refresh(jv.AUTO, key, 0.0)
    assert all(isinstance(x, type(gr.skip())) for x in again[HEAD:-1]), "nothing new: no redraw"
    log_metrics(job.run_id, 1, {"reward": 0.5, "constraints/punctuation:no_comma": 1.0})
    third = train.refresh(jv.AUTO, key, 0.0)
    reward_chart, pass_rates = third[HEAD], third[HEAD + 1]
    assert reward_chart["visible"] and pass_rates["visible"]
    assert [t.name for t in reward_chart["value"].data] == ["reward"]
    assert [t.name for t in pass_rates["value"].data] == ["punctuation:no_comma"]


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_AUTH", raising=False)
    assert settings.auth_pairs() is None
    monkeypatch.setenv("LAB_AUTH", "ada:s3cr:et")
    assert settings.auth_pairs() == [("ada", "s3cr:et")]
    monkeypatch.setenv("LAB_AUTH", "nopassword")
    with pytest.raises(LabError, match="LAB_AUTH"):
        settings.auth_pairs()
    monkeypatch.setenv("LAB_MAX_QUEUED", "zero")
    with pytest.raises(LabError, match="LAB_MAX_QUEUED"):
        settings.max_queued()
    monkeypatch.delenv("LAB_MAX_QUEUED")
    assert settings.max_queued() == settings.DEFAULT_MAX_QUEUED
    monkeypatch.setenv("LAB_READ_ONLY", "yes")
    assert settings.read_only()


def test_model_fields_are_menus_of_the_bundled_model_and_stored_checkpoints(db: Path, tmp_path: Path) -> None:
    from storage.checkpoints import register_checkpoint

    specs = {(s.stage, s.name): s for s in form.all_fields()}
    for key in [("grpo", "model"), ("reward_model", "policy"), ("reward_model", "init_from")]:
        assert form.PICKERS[key] == "model"
        widget = form.make_widget(specs[key])
        assert isinstance(widget, gr.Dropdown) and widget.allow_custom_value, "a folder or hub id can still be typed"
    folder = tmp_path / "ckpt"
    folder.mkdir()
    run_id = job_store.create_job("grpo", {}, name="tuned").run_id
    checkpoint = register_checkpoint(run_id, 5, folder)
    values = [v for _, v in form.picker_choices("model")]
    assert values[0] == "bundled" and str(checkpoint) in values


def test_experiment_launch_takes_the_form_as_base_and_refuses_bad_variants(db: Path) -> None:
    from training.cli import main as cli_main

    specs, raw = _raw({("grpo", "steps"): 2, ("dataset", "name"): "123"})
    with pytest.raises(gr.Error, match=r"variants\[1\]|unknown variant"):
        train.on_experiment("cpu-smoke", ["full"], "oops no colon", "", specs, *raw)
    with pytest.raises(gr.Error, match="tick at least one variant"):
        train.on_experiment("cpu-smoke", [], "", "", specs, *raw)
    assert job_store.list_jobs() == []
    message, command = train.on_experiment("cpu-smoke", ["full", "hard-only"], "long: grpo.steps=3\n", "", specs, *raw)
    assert message.startswith("Queued experiment job 1 (run 1): 3 variant(s) of cpu-smoke")
    job = job_store.get_job(1)
    assert job.kind == "experiment" and job.config["variants"] == ["full", "hard-only", "long: grpo.steps=3"]
    assert job.config["overrides"] == ['dataset.name="123"', "grpo.steps=2"]  # only what differs from the preset
    # The CLI command shown queues the same config.
    argv = shlex.split(command)[3:]
    assert cli_main(argv) == 0
    assert job_store.get_job(2).config == job.config
