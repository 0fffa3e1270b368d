"""Export for scale-out: verl parquet scored by lab/verl_reward.py, and a TRL CLI YAML + reward module."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.recording_context import RecordingContext
from training.export import REPO_ROOT, main_export
from training.registry import parse_config


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 10, "max_constraints": 3, "math_ratio": 0.2, "soft_ratio": 0.5})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def test_verl_export_rows_score_with_compute_score(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from lab.verl_reward import compute_score

    out = tmp_path / "verl"
    code = main_export(
        ["verl", str(out), "--dataset", str(dataset_file), "--model", str(tiny_model_dir), "--val-fraction", "0.2"]
    )
    assert code == 0
    train = pq.read_table(out / "train.parquet").to_pylist()
    val = pq.read_table(out / "val.parquet").to_pylist()
    assert train and val
    assert {r["extra_info"]["group_id"] for r in train}.isdisjoint({r["extra_info"]["group_id"] for r in val})
    # Hard-only export (no RM): rows whose constraints are all soft are left out.
    for row in train + val:
        assert row["prompt"][0]["role"] == "user" and row["reward_model"]["style"] == "rule"
    math = next(r for r in train + val if r["ability"] == "math")
    answer = math["reward_model"]["ground_truth"]
    right = compute_score(math["data_source"], f"So the answer is \\boxed{{{answer}}}.", answer, math["extra_info"])
    wrong = compute_score(math["data_source"], "I think \\boxed{-1}.", answer, math["extra_info"])
    assert right["score"] == 1.0 and wrong["score"] == 0.0
    row = next(r for r in train if r["ability"] == "instruction_following")
    truth = json.loads(row["reward_model"]["ground_truth"])
    scored = compute_score(row["data_source"], "Some answer.", row["reward_model"]["ground_truth"], row["extra_info"])
    assert scored["n_constraints"] == len(truth["instruction_id_list"]) and 0.0 <= scored["score"] <= 1.0
    config = yaml.safe_load((out / "verl_grpo.yaml").read_text())["overrides"]
    assert "algorithm.adv_estimator=grpo" in config
    # verl 0.9.1's main_ppo reads the reward only from reward.custom_reward_function (tests/test_verl_export.py
    # checks all of this with verl itself); validate_config needs both micro-batch sizes; use_v1 needs verl-core.
    assert f"reward.custom_reward_function.path={REPO_ROOT / 'lab' / 'verl_reward.py'}" in config
    assert not any(line.startswith("custom_reward_function") for line in config)
    assert "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=16" in config
    assert "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=16" in config
    assert "trainer.use_v1=False" in config and "trainer.val_before_train=True" in config
    assert f"data.train_files={(out / 'train.parquet').resolve()}" in config
    assert f"data.val_files={(out / 'val.parquet').resolve()}" in config
    script = (out / "run_verl.sh").read_text()
    assert "verl.trainer.main_ppo" in script and "PYTHONPATH" in script


def test_verl_export_without_a_split_says_so(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "verl"
    out.mkdir()
    (out / "val.parquet").write_text("left from an earlier export")
    args = ["verl", str(out), "--dataset", str(dataset_file), "--model", str(tiny_model_dir)]
    assert main_export([*args, "--val-fraction", "0"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["val_rows"] == 0 and report["val_files"] == "none" and not (out / "val.parquet").exists()
    config = yaml.safe_load((out / "verl_grpo.yaml").read_text())["overrides"]
    assert f"data.val_files={(out / 'train.parquet').resolve()}" in config
    assert "trainer.val_before_train=False" in config and "trainer.test_freq=-1" in config
    # A small fraction still holds out one group (it used to round to none and copy a training row instead).
    assert main_export([*args, "--val-fraction", "0.01"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["val_rows"] > 0 and report["val_files"] == "val.parquet"
    assert main_export([*args, "--val-fraction", "1"]) == 2
    assert "val_fraction" in capsys.readouterr().err


def test_trl_export_parses_with_trls_own_parser_and_rewards(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "trl"
    code = main_export(
        ["trl", str(out), "--dataset", str(dataset_file), "--model", str(tiny_model_dir), "--preset", "cpu-smoke"]
    )
    assert code == 0
    values = yaml.safe_load((out / "trl_grpo.yaml").read_text())
    assert values["model_name_or_path"] == str(tiny_model_dir)
    assert values["num_generations"] == 4 and values["max_steps"] == 3
    assert values["reward_funcs"] == ["iflab_reward.constraint_reward"]
    # TRL's own CLI parser accepts every key (run in a child: the parser owns sys.argv).
    check = (
        "import sys\n"
        "from trl import GRPOConfig, ModelConfig, TrlParser, DatasetMixtureConfig\n"
        "from trl.scripts.grpo import GRPOScriptArguments\n"
        "p = TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig, DatasetMixtureConfig))\n"
        "s, t, m, d = p.parse_args_and_config(['--config', sys.argv[1], '--use_cpu', 'true', '--bf16', 'false'])\n"
        "print(t.num_generations, t.per_device_train_batch_size, m.use_peft, s.reward_funcs)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(out / "trl_grpo.yaml")], capture_output=True, text=True, cwd=out, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[:3] == ["4", "4", "True"]
    rows = [json.loads(line) for line in (out / "data" / "train.jsonl").read_text().splitlines()]
    spec = importlib.util.spec_from_file_location("iflab_reward", out / "iflab_reward.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    batch = rows[:4]
    columns = {k: [r[k] for r in batch] for k in batch[0] if k != "prompt"}
    rewards = module.constraint_reward(prompts=[r["prompt"] for r in batch], completions=["An answer."] * 4, **columns)
    assert len(rewards) == 4 and all(r is None or 0.0 <= r <= 1.0 for r in rewards)


TRL_ARGS_CHILD = """
import dataclasses, json, sys
from trl import DatasetMixtureConfig, GRPOConfig, ModelConfig, TrlParser, get_peft_config
from trl.scripts.grpo import GRPOScriptArguments
p = TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig, DatasetMixtureConfig))
s, t, m, d = p.parse_args_and_config(['--config', sys.argv[1], *sys.argv[2:]])
print(json.dumps({
    'grpo': {f.name: repr(getattr(t, f.name)) for f in dataclasses.fields(t)},
    'lora': {k: repr(v) for k, v in get_peft_config(m).to_dict().items()},
}))
"""


def test_trl_export_gives_trl_the_grpo_jobs_own_arguments(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The exported YAML and the in-app trainer take their arguments from one mapping (training/grpo_trl.py):
    parsed by TRL's own parser, the YAML makes the GRPOConfig and LoraConfig the job builds, but for where the
    run lives, the progress bar and the machine (the YAML is written for a GPU with vLLM)."""
    from peft import LoraConfig

    from training.grpo_job import GRPOJobConfig, trl_args
    from training.grpo_trl import GPU_MACHINE, lora_kwargs, trl_kwargs

    settings = {
        "seed": 7, "loss_type": "dr_grpo", "prompts_per_step": 2, "group_size": 4, "micro_batch_size": 2,
        "lora_rank": 8, "lora_alpha": 8, "beta": 0.02, "gradient_checkpointing": True, "use_vllm": "auto",
    }  # fmt: skip
    grpo = tmp_path / "grpo.yaml"
    grpo.write_text(yaml.safe_dump(settings))
    out = tmp_path / "trl"
    args = ["trl", str(out), "--dataset", str(dataset_file), "--model", str(tiny_model_dir), "--grpo", str(grpo)]
    assert main_export(args) == 0
    values = yaml.safe_load((out / "trl_grpo.yaml").read_text())
    config = parse_config(GRPOJobConfig, {**settings, "dataset": str(dataset_file), "model": str(tiny_model_dir)})

    # The drifted keys: use_vllm follows the config (auto = on where vLLM is, as on the export's GPU machine; off
    # stays off), and data_seed, once set only by the job, is exported too.
    assert values["use_vllm"] is True and values["data_seed"] == 7 and values["seed"] == 7
    off = parse_config(GRPOJobConfig, {**settings, "use_vllm": "off", "dataset": str(dataset_file)})
    assert trl_kwargs(off, GPU_MACHINE)["use_vllm"] is False and trl_kwargs(off)["use_vllm"] is False
    assert values["lora_dropout"] == 0.0  # TRL's ModelConfig default is 0.05; the job trains with 0.0
    # Every GRPOConfig argument of the job is in the YAML with its value, and the YAML sets no other, but for the
    # documented overrides (output_dir: no run folder outside the app; disable_tqdm: a terminal run shows a bar).
    from trl import GRPOConfig

    job = trl_kwargs(config, GPU_MACHINE)
    overrides = {"output_dir", "disable_tqdm"}
    assert {k: values[k] for k in job if k not in overrides} == {k: v for k, v in job.items() if k not in overrides}
    grpo_fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    assert {k for k in values if k in grpo_fields} - set(job) == {"output_dir"}

    # End to end: TRL parses the YAML, with this machine's three flags (as the YAML's header says on CPU), into the
    # GRPOConfig and LoraConfig the job builds here.
    here = trl_kwargs(config)
    flags = [f"--{k}={str(here[k]).lower()}" for k in ("use_cpu", "bf16", "use_vllm")]
    result = subprocess.run(
        [sys.executable, "-c", TRL_ARGS_CHILD, str(out / "trl_grpo.yaml"), *flags],
        capture_output=True, text=True, cwd=out, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    built = trl_args(config, Path("iflab-grpo"))
    differ = {
        f.name: (parsed["grpo"][f.name], repr(getattr(built, f.name)))
        for f in dataclasses.fields(built)
        if parsed["grpo"][f.name] != repr(getattr(built, f.name))
    }
    assert set(differ) == {"disable_tqdm"}, differ
    job_lora = {k: repr(v) for k, v in LoraConfig(**lora_kwargs(config)).to_dict().items()}
    assert parsed["lora"] == job_lora


def test_export_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main_export(["verl", str(tmp_path / "o"), "--dataset", str(tmp_path / "missing.jsonl")]) == 2
    assert "dataset" in capsys.readouterr().err
