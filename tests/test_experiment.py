"""The `experiment` job kind on the tiny model: variants checked before anything is stored, two variants trained
and evaluated with shared stages, the ablation table built from storage, and a resume that skips what finished."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lab.errors import LabError
from training.experiment_plan import VARIANTS, parse_variant, plan_experiment


def tiny_sets(model: Path) -> list[str]:
    """cpu-smoke shrunk to the tiny model, as an experiment's `overrides`."""
    return [
        "dataset.num_tasks=4", "dataset.max_constraints=2", "dataset.math_ratio=0.2",
        f"reward_model.policy={model}", f"reward_model.init_from={model}", "reward_model.max_new_tokens=12",
        "reward_model.batch_size=4", f"grpo.model={model}", "grpo.steps=2", "grpo.prompts_per_step=2",
        "grpo.group_size=2", "grpo.max_completion_length=8", "grpo.save_every=1", "grpo.sample_every=1",
        "grpo.samples_per_log=2", "grpo.learning_rate=1e-3",
    ]  # fmt: skip


def experiment_values(model: Path, variants: list[str]) -> dict[str, Any]:
    return {
        "preset": "cpu-smoke",
        "variants": variants,
        "overrides": tiny_sets(model),
        "suites": ["heldout-if", "arith-probe"],
        "eval_limit": 2,
        "max_new_tokens": 4,
    }


def test_variants_parse_and_bad_ones_name_the_field(db: Path, tiny_model_dir: Path) -> None:
    assert parse_variant("hard-only").drop == ("reward_model",)
    own = parse_variant("long: grpo.max_completion_length=128, dataset.exclude_types=[a, b], -reward_model")
    assert own.name == "long" and own.drop == ("reward_model",)
    assert own.sets == {"grpo": {"max_completion_length": 128}, "dataset": {"exclude_types": ["a", "b"]}}
    with pytest.raises(LabError, match="unknown variant 'nope'") as error:
        plan_experiment("cpu-smoke", ["full", "nope"])
    assert error.value.field == "variants[1]"
    with pytest.raises(LabError, match="named twice"):
        plan_experiment("cpu-smoke", ["full", "full"], tiny_sets(tiny_model_dir))
    with pytest.raises(LabError, match="variant bad: grpo.steps: must be >= 1") as error:
        plan_experiment("cpu-smoke", ["full", "bad: grpo.steps=0"], tiny_sets(tiny_model_dir))
    assert error.value.field == "variants[1]"
    with pytest.raises(LabError, match="leaves out grpo"):
        plan_experiment("cpu-smoke", ["x: -grpo"], tiny_sets(tiny_model_dir))
    with pytest.raises(LabError, match="needs a reward_model"):  # rm-only without an RM stage cannot score anything
        plan_experiment("cpu-smoke", ["y: grpo.rule_rewards=false, -reward_model"], tiny_sets(tiny_model_dir))
    with pytest.raises(LabError, match="not 'base'") as error:
        plan_experiment("cpu-smoke", ["base: grpo.steps=2"], tiny_sets(tiny_model_dir))
    with pytest.raises(LabError, match="STAGE.FIELD=VALUE") as error:
        plan_experiment("cpu-smoke", ["full"], ["grpo.steps"])
    assert error.value.field == "overrides"
    with pytest.raises(LabError, match="grpo.reward_model is the reward_model stage's output") as error:
        plan_experiment("cpu-smoke", ["full"], [*tiny_sets(tiny_model_dir), "grpo.reward_model=3"])
    assert error.value.field == "overrides"
    with pytest.raises(LabError, match="grpo.dataset is the dataset stage's output") as error:
        plan_experiment("cpu-smoke", ["full", "mine: grpo.dataset=7"], tiny_sets(tiny_model_dir))
    assert error.value.field == "variants[1]"
    with pytest.raises(LabError, match="one experiment compares variants of one base model") as error:
        plan_experiment("cpu-smoke", ["full", "other: grpo.model=bundled"], tiny_sets(tiny_model_dir))
    # Leaving the reward model out also empties GRPO's reward_model, whatever the preset or base changes say.
    hard = plan_experiment("cpu-smoke", ["hard-only"], tiny_sets(tiny_model_dir))[0]
    assert hard.stages == ["dataset", "grpo"] and hard.overrides["grpo"]["reward_model"] == ""
    for name in VARIANTS:  # every built-in variant is a valid pipeline of the shipped preset
        plan_experiment("cpu-smoke", [name], tiny_sets(tiny_model_dir))


def test_a_bad_experiment_is_refused_before_anything_is_stored(db: Path, tiny_model_dir: Path) -> None:
    from storage import jobs, runs
    from training.jobs import submit_job

    with pytest.raises(LabError) as error:
        submit_job("experiment", experiment_values(tiny_model_dir, ["full", "bad: grpo.group_size=1"]))
    assert error.value.field == "variants[1]"
    with pytest.raises(LabError) as error:
        submit_job("experiment", {**experiment_values(tiny_model_dir, ["full"]), "suites": ["no-such-suite"]})
    assert "no-such-suite" in str(error.value)
    assert runs.list_runs() == [] and jobs.list_jobs() == []


def test_two_variants_share_stages_build_the_table_and_resume_skips_what_finished(
    db: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.experiment_job as experiment
    from evals.ablation import cells, experiment_table, headers, markdown, tradeoff_points
    from storage import jobs, runs
    from training.jobs import resume_job, run_in_foreground

    real = experiment._run_variant

    def crash_on_second(planned: Any, *args: Any) -> bool:
        if planned.variant.name == "hard-only":
            raise RuntimeError("the machine went away")
        return real(planned, *args)

    monkeypatch.setattr(experiment, "_run_variant", crash_on_second)
    job = run_in_foreground("experiment", experiment_values(tiny_model_dir, ["full", "hard-only"]))
    assert job.status == "failed" and "the machine went away" in job.error_message
    first = runs.load_state(job.run_id)
    assert first["variants"]["full"]["done"] and "hard-only" not in first["variants"]
    kinds_before = sorted(r.kind for r in runs.list_runs() if r.id != job.run_id)
    assert kinds_before == ["dataset", "evaluate", "evaluate", "grpo", "reward_model"]  # base + full

    # A table can be built mid-experiment: the missing variant is named.
    partial = experiment_table(job.run_id)
    assert [r.variant for r in partial.rows] == ["base", "full"] and partial.missing == ["hard-only"]

    monkeypatch.setattr(experiment, "_run_variant", real)
    again = resume_job(job.id, foreground=True)
    assert again.status == "succeeded", again.error_message
    state = runs.load_state(job.run_id)
    full, hard = state["variants"]["full"], state["variants"]["hard-only"]
    # The finished variant and the base evaluation were not rerun; hard-only shares the dataset run.
    kinds_after = sorted(r.kind for r in runs.list_runs() if r.id != job.run_id)
    assert kinds_after == ["dataset", "evaluate", "evaluate", "evaluate", "grpo", "grpo", "reward_model"]
    assert hard["runs"]["dataset"] == full["runs"]["dataset"] and "reward_model" not in hard["runs"]
    assert full["checkpoint_id"] != hard["checkpoint_id"]
    stage_jobs = [j for j in jobs.list_jobs(limit=100) if j.run_id != job.run_id]
    assert all(j.status == "succeeded" for j in stage_jobs)

    table = experiment_table(job.run_id)
    assert [r.variant for r in table.rows] == ["base", "full", "hard-only"] and not table.missing
    assert table.suites == ["heldout-if", "arith-probe"] and table.reference == "full"
    head, rows = headers(table), cells(table)
    assert head == ["variant", "heldout-if", "Δ base", "Δ full", "arith-probe", "Δ base", "Δ full", "tokens", "RM AUC"]
    assert rows[1][0] == "full (reference)" and rows[1][3] == ""  # no delta of the reference against itself
    assert rows[2][3] != "" and rows[2][2] != ""  # hard-only against the reference and the base, paired
    assert rows[1][-1].startswith(("0.", "1.")) and rows[2][-1] == ""  # RM AUC only where an RM was trained
    hard_row = table.rows[2].vs_reference["heldout-if"]
    assert hard_row.deltas["instruction_loose"] == pytest.approx(
        hard_row.values["instruction_loose"] - table.rows[1].vs_base["heldout-if"].values["instruction_loose"]
    )
    assert "| hard-only |" in markdown(table)
    assert [p.label for p in tradeoff_points(table)] == ["base", "full", "hard-only"]

    # The Runs tab's panel of the experiment run shows the same table and the trade-off figure.
    from ui.run_inspectors import experiment_panel

    summary, shown, figure = experiment_panel(job.run_id)
    assert summary.startswith("2 variant(s) evaluated on heldout-if, arith-probe")
    assert shown["headers"] == head and shown["data"] == rows
    assert len(figure["value"].data) == 3

    # A second experiment that adds a variant trains only that variant: hard-only's runs, the dataset, the reward
    # model and the base evaluation are the first experiment's.
    more = run_in_foreground("experiment", experiment_values(tiny_model_dir, ["hard-only", "kl-0.01"]))
    assert more.status == "succeeded", more.error_message
    new_runs = sorted(r.kind for r in runs.list_runs() if r.kind != "experiment")
    assert new_runs == sorted([*kinds_after, "grpo", "evaluate"])
    second = runs.load_state(more.run_id)
    assert second["variants"]["hard-only"]["runs"] == hard["runs"]
    assert second["variants"]["kl-0.01"]["runs"]["reward_model"] == full["runs"]["reward_model"]
    assert sum(1 for s in second["stages"].values() if s.get("from") == job.run_id) == 5, second["stages"]
    other = experiment_table(more.run_id)
    assert [r.variant for r in other.rows] == ["base", "hard-only", "kl-0.01"] and other.reference == "hard-only"


def test_same_config_treats_a_field_added_since_as_its_default() -> None:
    from training.grpo_config import GRPOJobConfig
    from training.registry import config_to_dict, same_config

    now = config_to_dict(GRPOJobConfig(dataset="run:3"))
    stored_before = {k: v for k, v in now.items() if k != "soft_reward"}  # stored before the field existed
    assert same_config(GRPOJobConfig, now, stored_before)
    assert not same_config(GRPOJobConfig, {**now, "soft_reward": "binary"}, stored_before)
    assert not same_config(GRPOJobConfig, now, {**now, "dataset": "run:4"})  # another upstream run
    assert same_config(GRPOJobConfig, now, {**now, "retired_field": 1})  # a field the kind no longer has


def test_same_config_ignores_speed_only_fields() -> None:
    """Evaluate's batch_size changes how fast greedy answers come, not what they are: an experiment reuses an
    evaluation stored with another batch size (its default went from 64 to 256), never one with other suites."""
    from training.evaluate_job import EvaluateConfig
    from training.registry import config_to_dict, same_config

    now = config_to_dict(EvaluateConfig(checkpoints=["bundled"], suites=["heldout-if"]))
    assert same_config(EvaluateConfig, now, {**now, "batch_size": 64})
    assert not same_config(EvaluateConfig, now, {**now, "max_new_tokens": 64})
    assert not same_config(EvaluateConfig, now, {**now, "suites": ["heldout-ood"]})


def test_no_curriculum_trains_grpo_on_the_hardest_levels_with_the_full_recipes_reward_model(
    db: Path, tiny_model_dir: Path
) -> None:
    from storage import runs
    from training.jobs import run_in_foreground

    job = run_in_foreground("experiment", experiment_values(tiny_model_dir, ["full", "no-curriculum"]))
    assert job.status == "succeeded", job.error_message
    state = runs.load_state(job.run_id)
    full, flat = state["variants"]["full"]["runs"], state["variants"]["no-curriculum"]["runs"]
    # The RM needs every level's answers (its pairs are o_k vs o_{k-1}): it is the full recipe's, on its data.
    assert flat["reward_model"] == full["reward_model"] and flat["reward_model_dataset"] == full["dataset"]
    assert flat["dataset"] != full["dataset"]
    assert runs.get_run(flat["dataset"]).config["curriculum"] is False
    grpo = runs.get_run(flat["grpo"]).config
    assert grpo["dataset"] == f"run:{flat['dataset']}" and grpo["reward_model"] == f"run:{full['reward_model']}"
