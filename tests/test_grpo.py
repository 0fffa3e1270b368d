"""The grpo job: refusals, the dataset it feeds TRL, and real GRPO steps on the tiny model (checkpoint, cancel,
resume, metrics and samples)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import LabError
from tests.recording_context import RecordingContext
from training.grpo_callbacks import finite_scalars, write_checkpoint_info
from training.grpo_job import GRPOJobConfig, training_rows
from training.registry import parse_config


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 6, "max_constraints": 2, "math_ratio": 0.2, "soft_ratio": 0.4})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def _config(dataset_file: Path, policy: Path, **values) -> GRPOJobConfig:
    base = {
        "dataset": str(dataset_file), "model": str(policy), "steps": 2, "prompts_per_step": 2, "group_size": 2,
        "max_completion_length": 8, "save_every": 1, "sample_every": 1, "samples_per_log": 3, "learning_rate": 1e-3,
    }  # fmt: skip
    return parse_config(GRPOJobConfig, {**base, **values})


def test_bad_grpo_configs_are_refused(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    bare = tmp_path / "bare.jsonl"
    bare.write_text(json.dumps({"prompt": "hi", "instruction_id_list": []}) + "\n")
    cases = [
        ({"steps": 0}, "steps", ">= 1"),
        ({"group_size": 1}, "group_size", ">= 2"),
        ({"model": str(tmp_path / "no_such_checkpoint")}, "model", "does not exist"),
        ({"dataset": str(empty)}, "dataset", "empty"),
        ({"dataset": str(bare)}, "dataset", "no row has constraints"),
        ({"reward_model": str(tmp_path)}, "reward_model", "not a reward-model checkpoint"),
        ({"reward_model": str(tmp_path / "gone")}, "reward_model", "does not exist"),
        ({"num_processes": 3}, "num_processes", "divide evenly"),
        ({"loss_type": "ppo"}, "loss_type", "one of"),
        ({"temperature": 0}, "temperature", "> 0"),
        ({"use_vllm": "on"}, "use_vllm", "CUDA"),
        ({"use_vllm": "maybe"}, "use_vllm", "one of"),
    ]
    for values, field, words in cases:
        with pytest.raises(LabError) as error:
            _config(dataset_file, tiny_model_dir, **values)
        assert error.value.field == field, values
        assert words in str(error.value), (values, str(error.value))


def test_training_rows_carry_kwargs_as_json_and_drop_unscorable_rows(dataset_file: Path) -> None:
    from lab.constraints.registry import get_type
    from training.refs import read_rows

    rows = read_rows(dataset_file)
    with_rm = training_rows(rows, chat=True, soft_scored=True)
    hard_only = training_rows(rows, chat=False, soft_scored=False)
    assert len(with_rm["prompt"]) == len(rows)
    assert with_rm["prompt"][0][0]["role"] == "user" and isinstance(hard_only["prompt"][0], str)
    assert all(isinstance(k, str) and isinstance(json.loads(k), list) for k in with_rm["kwargs"])
    for ids, source in zip(hard_only["instruction_id_list"], hard_only["source"], strict=True):
        assert source == "math" or any(get_type(t).kind == "hard" for t in ids)
    soft_only = sum(
        1 for r in rows if r["instruction_id_list"] and all(t.startswith("soft:") for t in r["instruction_id_list"])
    )
    assert len(hard_only["prompt"]) == len(rows) - soft_only


def test_metric_filter_and_checkpoint_base(tmp_path: Path) -> None:
    assert finite_scalars({"a": 1, "b": None, "c": float("nan"), "d": True, "e": 2.5}) == {"a": 1.0, "e": 2.5}
    (tmp_path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/abs/old/path", "r": 8}))
    write_checkpoint_info(tmp_path, {"type": "lora", "base": "bundled:SmolLM2-135M-Instruct", "step": 3})
    assert json.loads((tmp_path / "adapter_config.json").read_text())["base_model_name_or_path"].startswith("bundled:")
    assert json.loads((tmp_path / "lab_checkpoint.json").read_text())["step"] == 3


def test_two_grpo_steps_store_metrics_samples_and_a_checkpoint_that_generates(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.grpo_shared_prompt as shared_prompt
    from lab.models import clear_model_cache, generate_batch, load_model
    from training.grpo_job import run

    grouped = shared_prompt._grouped
    micro_batches: list[list[list[int]]] = []

    def spy(model, input_ids, attention_mask, logits_to_keep, groups, compute_entropy):  # noqa: ANN001, ANN202
        micro_batches.append(groups)
        return grouped(model, input_ids, attention_mask, logits_to_keep, groups, compute_entropy)

    monkeypatch.setattr(shared_prompt, "_grouped", spy)
    ctx = RecordingContext(tmp_path / "run")
    result = run(_config(dataset_file, tiny_model_dir, micro_batch_size=2), ctx)
    assert result["steps"] == 2 and not result["stopped"]
    # Each micro-batch of 2 is one whole group (its prompt run once), in both steps' 2 micro-batches.
    assert micro_batches == [[[0, 1]]] * 4
    assert sorted(ctx.metrics) == [1, 2]
    for step in (1, 2):
        values = ctx.metrics[step]
        for name in ("reward", "reward_std", "entropy", "completions/mean_length", "step_time", "lr", "loss"):
            assert name in values, (step, name)
        assert any(k.startswith("constraints/") for k in values)
        assert len(ctx.samples[step]) == 4  # samples_per_log 3 rounded up to whole groups of 2
        groups = {}
        for stored in ctx.samples[step]:
            groups.setdefault(stored["meta"]["group"], []).append(stored)
        assert sorted(len(members) for members in groups.values()) == [2, 2]
        for members in groups.values():  # one prompt per group; TRL's advantages sum to ~0 within it
            assert len({m["prompt"] for m in members}) == 1
            assert abs(sum(m["meta"]["advantage"] for m in members)) < 1e-6
        sample = ctx.samples[step][0]
        assert sample["breakdown"]["results"] or sample["breakdown"]["math"]
        assert sample["prompt"] and isinstance(sample["response"], str)
    assert [c[0] for c in ctx.checkpoints] == [1, 2]
    step, folder, meta = ctx.checkpoints[-1]
    assert meta["type"] == "lora" and meta["base"] == str(tiny_model_dir.resolve())
    assert (folder / "adapter_model.safetensors").is_file()
    clear_model_cache()
    loaded = load_model(str(folder))
    assert loaded.source.kind == "adapter"
    (text,) = generate_batch(loaded, ["Say hello."], max_new_tokens=4)
    assert isinstance(text, str)


def test_cancel_saves_a_checkpoint_and_resume_continues_the_curve(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from training.grpo_job import run

    config = _config(dataset_file, tiny_model_dir, steps=3, save_every=10, lora=False)
    # Progress is reported once before training, then as each step begins and ends: stop after the first step.
    first = RecordingContext(tmp_path / "run", stop_after_progress=3)
    result = run(config, first)
    assert result["stopped"] and result["steps"] == 1
    assert [c[0] for c in first.checkpoints] == [1]
    assert (first.checkpoints[0][1] / "config.json").is_file()  # full weights, not an adapter
    second = RecordingContext(tmp_path / "run", attempt=2)
    second.checkpoints = list(first.checkpoints)
    result = run(config, second)
    assert result["steps"] == 3 and not result["stopped"]
    assert sorted(second.metrics) == [2, 3]  # continues after the checkpoint, no step repeated
    assert [c[0] for c in second.checkpoints] == [1, 3]


def test_relay_forwards_complete_event_lines_only(tmp_path: Path) -> None:
    from training.grpo_launch import forward_events

    events = tmp_path / "events.jsonl"
    lines = [
        {"kind": "progress", "current": 1, "total": 2, "message": "m"},
        {"kind": "metrics", "step": 1, "values": {"reward": 0.5}},
        {"kind": "samples", "step": 1, "samples": [{"prompt": "p", "response": "r", "breakdown": {}}]},
        {"kind": "checkpoint", "step": 1, "path": str(tmp_path), "meta": {"type": "lora"}},
    ]
    events.write_text("".join(json.dumps(e) + "\n" for e in lines) + '{"kind": "metrics", "st')  # last line unfinished
    ctx = RecordingContext(tmp_path / "run")
    ids: list[int] = []
    offset = forward_events(events, 0, ctx, ids)
    assert ctx.metrics == {1: {"reward": 0.5}} and len(ctx.samples[1]) == 1 and ids == [1]
    assert ctx.progress_calls == [(1, 2, "m")]
    with events.open("a") as handle:
        handle.write('ep": 2, "values": {"reward": 0.7}}\n')
    forward_events(events, offset, ctx, ids)
    assert ctx.metrics[2] == {"reward": 0.7}


@pytest.mark.slow
def test_num_processes_runs_under_accelerate_launch(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """The multi-GPU path on CPU: accelerate launch (one process without GPUs), events relayed to the context."""
    from training.grpo_job import run

    ctx = RecordingContext(tmp_path / "run")
    result = run(_config(dataset_file, tiny_model_dir, num_processes=2), ctx)
    assert result["steps"] == 2 and result["num_processes"] == 2
    assert sorted(ctx.metrics) == [1, 2] and [c[0] for c in ctx.checkpoints] == [1, 2]
    assert result["checkpoints"] == [1, 2] and set(ctx.samples) == {1, 2}


def test_stored_ids_that_do_not_exist_are_refused(dataset_file: Path, tiny_model_dir: Path, lab_home: Path) -> None:
    from storage.db import dispose_engine

    try:
        for values, field, words in [
            ({"model": "99"}, "model", "no stored checkpoint with id 99"),
            ({"reward_model": "98"}, "reward_model", "no stored checkpoint with id 98"),
            ({"dataset": "97"}, "dataset", "no dataset with id 97"),
            ({"dataset": "run:96"}, "dataset", "no run with id 96"),
            ({"model": "run:x"}, "model", "run:<run id>"),
        ]:
            with pytest.raises(LabError) as error:
                _config(dataset_file, tiny_model_dir, **values)
            assert error.value.field == field and words in str(error.value), (values, str(error.value))
    finally:
        dispose_engine()


def test_ablation_rewards_binary_soft_and_no_rule_rewards(dataset_file: Path, tiny_model_dir: Path) -> None:
    import dataclasses

    from lab.constraints.registry import get_type
    from lab.reward import breakdown
    from lab.rm_scorer import BinaryScorer
    from training.grpo_job import reward_weights
    from training.refs import read_rows

    with pytest.raises(LabError, match="needs a reward_model") as error:
        _config(dataset_file, tiny_model_dir, rule_rewards=False)
    assert error.value.field == "rule_rewards"
    with pytest.raises(LabError) as error:
        _config(dataset_file, tiny_model_dir, soft_reward="ternary")
    assert error.value.field == "soft_reward"

    class Fixed:  # a soft scorer that is 70 % sure of everything
        def score(self, pairs: list[tuple[str, str]]) -> list[float]:
            return [0.7] * len(pairs)

    assert BinaryScorer(Fixed()).score([("a", "b"), ("c", "d")]) == [1.0, 1.0]
    assert BinaryScorer(Fixed(), threshold=0.8).score([("a", "b")]) == [0.0]

    rows = read_rows(dataset_file)
    mixed = next(r for r in rows if {get_type(t).kind for t in r.get("instruction_id_list") or []} == {"hard", "soft"})
    config = _config(dataset_file, tiny_model_dir)
    no_rules = dataclasses.replace(config, rule_rewards=False)  # past validate: reward_weights reads only this
    assert reward_weights(config) is None and reward_weights(no_rules) == {"hard": 0.0}
    soft_only_reward = breakdown(mixed, "an answer", Fixed(), weights=reward_weights(no_rules)).reward
    assert soft_only_reward == pytest.approx(0.7)  # the hard constraints weigh nothing

    kept = training_rows(rows, chat=False, soft_scored=True, rule_rewards=False)
    for ids, source in zip(kept["instruction_id_list"], kept["source"], strict=True):
        assert source == "math" or any(get_type(t).kind == "soft" for t in ids)
    assert len(kept["prompt"]) < len(rows)
