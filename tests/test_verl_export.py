"""The verl export checked by verl 0.9.1 itself (its config, validate_config, RLHFDataset, the reward loader
main_ppo uses and its reward manager), in the venv that `scripts/verl_check.sh` builds (`-m verl`)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.recording_context import RecordingContext
from training.export import REPO_ROOT, main_export
from training.registry import parse_config

pytestmark = pytest.mark.verl

VERL_PYTHON = Path(os.environ.get("VERL_PYTHON", REPO_ROOT / ".venv-verl" / "bin" / "python"))


@pytest.fixture(scope="module")
def verl_python() -> Path:
    if not VERL_PYTHON.is_file():
        pytest.skip(f"no verl venv at {VERL_PYTHON}: run scripts/verl_check.sh (or set VERL_PYTHON)")
    return VERL_PYTHON


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 10, "max_constraints": 3, "math_ratio": 0.2, "soft_ratio": 0.5})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def _export(out: Path, dataset: Path, model: Path, *options: str) -> None:
    assert main_export(["verl", str(out), "--dataset", str(dataset), "--model", str(model), *options]) == 0


def _verl_check(verl_python: Path, out: Path) -> tuple[int, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [str(verl_python), str(REPO_ROOT / "scripts" / "verl_check.py"), str(out)],
        capture_output=True, text=True, env=env, cwd=out, timeout=600,
    )  # fmt: skip
    start = result.stdout.rfind("\n{\n")  # the summary is the last thing printed; verl prints before it
    assert start >= 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.returncode, json.loads(result.stdout[start + 1 :])


def test_verl_runs_our_reward_on_our_data_with_a_config_it_accepts(
    verl_python: Path, dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "verl"
    _export(out, dataset_file, tiny_model_dir, "--val-fraction", "0.2")
    code, summary = _verl_check(verl_python, out)
    assert code == 0 and summary["failures"] == [], summary
    assert summary["verl"] == "0.9.1" and summary["validate_config"] == "passed" and summary["use_v1"] is False
    assert summary["reward_function"] == f"{REPO_ROOT / 'lab' / 'verl_reward.py'}:compute_score"
    assert summary["val_rows"] > 0 and summary["val_files"].endswith("val.parquet")
    math = [s for s in summary["scored"] if s["data_source"] == "iflab/math"]
    assert [s["score"] for s in math] == [1.0, 0.0]
    assert any(s["data_source"] == "iflab/curriculum" and s["n_constraints"] >= 1 for s in summary["scored"])


def test_full_weights_with_kl_and_no_validation_split(
    verl_python: Path, dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    grpo = tmp_path / "grpo.yaml"
    values = {"lora": False, "beta": 0.04, "num_processes": 2, "micro_batch_size": 2, "loss_type": "dr_grpo"}
    grpo.write_text(yaml.safe_dump(values))
    out = tmp_path / "verl"
    _export(out, dataset_file, tiny_model_dir, "--grpo", str(grpo), "--val-fraction", "0")
    code, summary = _verl_check(verl_python, out)
    assert code == 0 and summary["failures"] == [], summary
    assert summary["val_files"].endswith("train.parquet") and not (out / "val.parquet").exists()


def test_the_check_catches_a_top_level_reward_function(
    verl_python: Path, dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The old export's keys: verl 0.9.1 composes them but its reward loader never reads them."""
    out = tmp_path / "verl"
    _export(out, dataset_file, tiny_model_dir)
    config = out / "verl_grpo.yaml"
    overrides = yaml.safe_load(config.read_text())["overrides"]
    old = [
        line.removeprefix("+").removeprefix("reward.") if "custom_reward_function" in line else line
        for line in overrides
    ]
    config.write_text(yaml.safe_dump({"overrides": [o for o in old if "reward_kwargs" not in o]}))
    code, summary = _verl_check(verl_python, out)
    assert code == 1
    assert any("reward loader did not load our compute_score" in f for f in summary["failures"])


def test_a_reward_model_scores_soft_constraints_inside_verl(
    verl_python: Path, dataset_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """rm_path travels as reward_kwargs; the RM loads under verl's own transformers (<5.11)."""
    from training.reward_model_job import RewardModelConfig
    from training.reward_model_job import run as run_rm

    config = parse_config(
        RewardModelConfig,
        {
            "dataset": str(dataset_file), "policy": str(tiny_model_dir), "init_from": str(tiny_model_dir),
            "max_new_tokens": 8, "epochs": 1, "batch_size": 4, "held_out_fraction": 0.3,
        },
    )  # fmt: skip
    rm = run_rm(config, RecordingContext(tmp_path / "rm"))["path"]
    out = tmp_path / "verl"
    _export(out, dataset_file, tiny_model_dir, "--reward-model", str(rm))
    code, summary = _verl_check(verl_python, out)
    assert code == 0 and summary["failures"] == [], summary
    assert summary["reward_kwargs"]["rm_path"] == str(Path(rm).resolve())
    soft = summary["scored"][-1]
    assert soft["data_source"] == "iflab/curriculum" and 0.0 <= soft["soft_rm_mean"] <= 1.0
