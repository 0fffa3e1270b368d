"""The GPU paths on a tiny random model (`-m gpu`; they skip without CUDA): GRPO in bf16 on CUDA with our reward,
cancel + resume from a checkpoint, the reward-model stage, an evaluate job generating on CUDA, a checkpoint
reloaded for generation, and vLLM generation when vLLM is importable. scripts/gpu_check.sh runs them on a device
and collects the lines they append to $GPU_CHECK_REPORT. IFLAB_GPU_TESTS_ON_CPU=1 runs them on CPU instead (a dry
run of the script here, and the CPU step time it reports beside the CUDA one).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.recording_context import RecordingContext
from training.registry import parse_config

CUDA = torch.cuda.is_available()
DEVICE = "cuda" if CUDA else "cpu"
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not CUDA and os.environ.get("IFLAB_GPU_TESTS_ON_CPU") != "1", reason="needs a CUDA GPU"),
]


def report(check: str, **values: Any) -> None:
    """One JSON line per check for the device script's summary (what ran where, and how fast)."""
    path = os.environ.get("GPU_CHECK_REPORT")
    line = {"check": check, "device": DEVICE, "gpu": torch.cuda.get_device_name(0) if CUDA else None, **values}
    print(json.dumps(line, default=str))
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, default=str) + "\n")


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.dataset_job import DatasetConfig
    from training.dataset_job import run as run_dataset

    config = parse_config(DatasetConfig, {"num_tasks": 6, "max_constraints": 3, "math_ratio": 0.2, "soft_ratio": 0.4})
    return Path(run_dataset(config, RecordingContext(tmp_path_factory.mktemp("ds")))["path"])


def _grpo_config(dataset: Path, policy: Path, **values: Any) -> Any:
    from training.grpo_job import GRPOJobConfig

    base = {
        "dataset": str(dataset), "model": str(policy), "steps": 3, "prompts_per_step": 2, "group_size": 4,
        "max_completion_length": 16, "save_every": 2, "sample_every": 1, "samples_per_log": 2,
        "learning_rate": 1e-3, "use_vllm": "off",
    }  # fmt: skip
    return parse_config(GRPOJobConfig, {**base, **values})


def _capture_trainer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import training.grpo_job as grpo

    seen: dict[str, Any] = {}
    build = grpo.build_trainer

    def spy(config: Any, ctx: Any, output_dir: Path) -> Any:
        trainer, callback = build(config, ctx, output_dir)
        seen["trainer"] = trainer
        return trainer, callback

    monkeypatch.setattr(grpo, "build_trainer", spy)
    return seen


def _step_times(ctx: RecordingContext) -> list[float]:
    return [round(ctx.metrics[s]["step_time"], 3) for s in sorted(ctx.metrics) if "step_time" in ctx.metrics[s]]


def test_grpo_trains_in_bf16_on_cuda_with_our_reward_and_reloads_its_checkpoint(
    dataset_file: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.models import clear_model_cache, generate_batch, load_model
    from training.grpo_job import run

    seen = _capture_trainer(monkeypatch)
    ctx = RecordingContext(tmp_path / "run")
    start = time.perf_counter()
    result = run(_grpo_config(dataset_file, tiny_model_dir), ctx)
    wall = time.perf_counter() - start
    trainer = seen["trainer"]
    weights = next(p for n, p in trainer.model.named_parameters() if "embed_tokens" in n)
    assert trainer.model.device.type == DEVICE and trainer.args.bf16 == CUDA and trainer.args.use_cpu == (not CUDA)
    assert weights.dtype == (torch.bfloat16 if CUDA else torch.float32)
    assert result["steps"] == 3 and not result["stopped"] and sorted(ctx.metrics) == [1, 2, 3]
    assert all("reward" in ctx.metrics[s] and any(k.startswith("constraints/") for k in ctx.metrics[s]) for s in (1, 2))
    assert [c[0] for c in ctx.checkpoints] == [2, 3] and ctx.samples[1][0]["breakdown"]

    step, folder, meta = ctx.checkpoints[-1]
    clear_model_cache()
    loaded = load_model(str(folder))
    assert loaded.source.kind == "adapter" and loaded.model.device.type == DEVICE
    (text,) = generate_batch(loaded, ["Write one sentence in lowercase."], max_new_tokens=8)
    assert isinstance(text, str)
    report(
        "grpo", wall_s=round(wall, 1), step_time_s=_step_times(ctx), dtype=str(weights.dtype),
        reward=[round(ctx.metrics[s]["reward"], 3) for s in (1, 2, 3)], reloaded_on=loaded.model.device.type,
    )  # fmt: skip


def test_grpo_full_weights_cancel_and_resume_on_cuda(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from training.grpo_job import run

    config = _grpo_config(dataset_file, tiny_model_dir, lora=False, save_every=10, beta=0.04)
    first = RecordingContext(tmp_path / "run", stop_after_progress=2)  # progress: once before, once per step
    assert run(config, first)["steps"] == 1
    second = RecordingContext(tmp_path / "run", attempt=2)
    second.checkpoints = list(first.checkpoints)
    result = run(config, second)
    assert result["steps"] == 3 and sorted(second.metrics) == [2, 3] and "kl" in second.metrics[3]
    assert (second.checkpoints[-1][1] / "config.json").is_file()
    report("grpo_resume", resumed_from=first.checkpoints[0][0], steps=sorted(second.metrics))


def test_reward_model_stage_on_cuda(dataset_file: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from lab.reward import breakdown
    from lab.rm_scorer import load_rm_scorer
    from training.reward_model_job import RewardModelConfig
    from training.reward_model_job import run as run_rm

    config = parse_config(
        RewardModelConfig,
        {
            "dataset": str(dataset_file), "policy": str(tiny_model_dir), "init_from": str(tiny_model_dir),
            "max_new_tokens": 16, "epochs": 2, "batch_size": 4, "held_out_fraction": 0.3, "learning_rate": 1e-3,
        },
    )  # fmt: skip
    ctx = RecordingContext(tmp_path / "rm")
    start = time.perf_counter()
    result = run_rm(config, ctx)
    wall = time.perf_counter() - start
    scorer = load_rm_scorer(result["path"])
    assert scorer.device.type == DEVICE
    row = {"instruction_id_list": ["soft:tone"], "kwargs": [{"tone": "warm"}], "constraints": ["Use a warm tone."]}
    scored = breakdown(row, "What a lovely day!", soft_scorer=scorer)
    assert 0.0 <= scored.results[0].score <= 1.0
    meta = ctx.checkpoints[-1][2]
    report("reward_model", wall_s=round(wall, 1), held_out_accuracy=meta["held_out_accuracy"])


def test_evaluate_job_generates_on_cuda(lab_home: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.models
    from training.jobs import run_in_foreground

    devices: list[str] = []
    load = lab.models.load_model

    def spy(*args: Any, **kwargs: Any) -> Any:
        loaded = load(*args, **kwargs)
        devices.append(loaded.model.device.type)
        return loaded

    monkeypatch.setattr(lab.models, "load_model", spy)
    config = {
        "checkpoints": [str(tiny_model_dir)], "suites": ["heldout-if", "math-probe"], "limit": 4,
        "max_new_tokens": 16, "batch_size": 8, "bootstrap_resamples": 100, "backend": "transformers",
    }  # fmt: skip
    start = time.perf_counter()
    job = run_in_foreground("evaluate", config)
    assert job.status == "succeeded", job.error_message
    assert devices and set(devices) == {DEVICE}
    report("evaluate", wall_s=round(time.perf_counter() - start, 1), evaluations=len(job.result["evaluations"]))


NO_VLLM = importlib.util.find_spec("vllm") is None


@pytest.fixture(scope="module")
def wide_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """vLLM needs a head size its kernels support: the tiny model widened to 64 per head."""
    from transformers import AutoConfig, AutoTokenizer, LlamaForCausalLM

    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.hidden_size, config.intermediate_size = 128, 256
    wide = tmp_path_factory.mktemp("wide")
    LlamaForCausalLM(config).save_pretrained(wide)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(wide)
    return wide


@pytest.mark.skipif(NO_VLLM or not CUDA, reason="vLLM (and CUDA) not available")
def test_grpo_with_vllm_rollouts(dataset_file: Path, wide_model_dir: Path, tmp_path: Path) -> None:
    from training.grpo_job import run

    ctx = RecordingContext(tmp_path / "run")
    start = time.perf_counter()
    result = run(_grpo_config(dataset_file, wide_model_dir, steps=2, use_vllm="on"), ctx)
    assert result["steps"] == 2 and sorted(ctx.metrics) == [1, 2] and "reward" in ctx.metrics[2]
    report("grpo_vllm", wall_s=round(time.perf_counter() - start, 1), step_time_s=_step_times(ctx))


@pytest.mark.skipif(NO_VLLM or not CUDA, reason="vLLM (and CUDA) not available")
def test_vllm_generates_for_evaluate(wide_model_dir: Path) -> None:
    from evals.generation import make_generator

    generator = make_generator("vllm", str(wide_model_dir), batch_size=8)
    try:
        start = time.perf_counter()
        outputs = generator.generate(["Say hello.", "Count to three."], max_new_tokens=8, seed=0)
    finally:
        generator.close()
    assert len(outputs) == 2 and all(isinstance(o.text, str) for o in outputs)
    report("vllm_generate", wall_s=round(time.perf_counter() - start, 2))
