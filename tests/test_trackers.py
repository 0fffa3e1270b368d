"""`report_to` on the grpo kind: TRL's logs mirrored to trackio (local SQLite, offline), the CLI export carrying
it, and a refusal when the tracker's package is missing. IF-Lab's own storage stays the record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import LabError
from tests.recording_context import RecordingContext
from training.export import REPO_ROOT, trl_yaml, verl_overrides
from training.grpo_job import GRPOJobConfig, trl_args
from training.registry import parse_config


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 4, "max_constraints": 2, "math_ratio": 0.25})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def _config(dataset: Path, policy: Path, **values: object) -> GRPOJobConfig:
    base = {
        "dataset": str(dataset), "model": str(policy), "steps": 2, "prompts_per_step": 2, "group_size": 2,
        "max_completion_length": 8, "save_every": 2, "sample_every": 0, "learning_rate": 1e-3,
    }  # fmt: skip
    return parse_config(GRPOJobConfig, {**base, **values})


def test_report_to_reaches_trl_and_the_exports(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    config = _config(dataset_file, tiny_model_dir, report_to="trackio")
    args = trl_args(config, tmp_path, run_name="iflab-run-7")
    assert args.report_to == ["trackio"] and args.run_name == "iflab-run-7" and args.project == "iflab"
    assert args.trackio_static_space_id is False  # never a Space: the run stays on this machine
    assert trl_args(_config(dataset_file, tiny_model_dir), tmp_path).report_to == []
    assert trl_yaml(config, "m", tmp_path)["report_to"] == "trackio"
    assert "trainer.logger=[console,trackio]" in verl_overrides(config, "m", tmp_path, None)


def test_a_missing_tracker_is_refused_at_submit(
    dataset_file: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else find_spec(name, *a))
    with pytest.raises(LabError) as error:
        _config(dataset_file, tiny_model_dir, report_to="wandb")
    assert error.value.field == "report_to" and "pip install wandb" in str(error.value)
    with pytest.raises(LabError) as error:
        _config(dataset_file, tiny_model_dir, report_to="mlflow")
    assert error.value.field == "report_to" and "one of" in str(error.value)


TRAIN_WITH_TRACKIO = """
import json, sys
from pathlib import Path
from tests.recording_context import RecordingContext
from training.grpo_job import GRPOJobConfig, run
from trackio.sqlite_storage import SQLiteStorage

config = GRPOJobConfig(**json.loads(sys.argv[1]))
ctx = RecordingContext(Path(sys.argv[2]))
run(config, ctx)
logs = SQLiteStorage.get_logs("iflab", "iflab-run-1")
print(json.dumps({"ours": {s: v["reward"] for s, v in ctx.metrics.items()}, "runs": SQLiteStorage.get_runs("iflab"),
                  "trackio": [(row["step"], row.get("train/reward")) for row in logs if "train/reward" in row]}))
"""


def test_trackio_gets_the_same_curve_offline(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    """A child process: trackio reads TRACKIO_DIR once, at import."""
    pytest.importorskip("trackio")
    config = _config(dataset_file, tiny_model_dir, report_to="trackio")
    env = {**os.environ, "TRACKIO_DIR": str(tmp_path / "trackio"), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    values = {k: v for k, v in vars(config).items()}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_WITH_TRACKIO, json.dumps(values), str(tmp_path / "run")],
        capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["runs"] == ["iflab-run-1"]
    ours = {int(step): reward for step, reward in report["ours"].items()}
    assert sorted(ours) == [1, 2]
    assert [(step, round(value, 6)) for step, value in report["trackio"]] == [
        (step, round(ours[step], 6)) for step in (1, 2)
    ]
    assert (tmp_path / "trackio" / "iflab.db").is_file()
