"""A grpo job's settings as TRL's and peft's keyword arguments: the one mapping that both the in-app trainer
(training/grpo_job.py) and the `trl grpo` export (training/export.py) use, so the two cannot drift apart.

Only the machine the trainer runs on is an input beside the config (CUDA, bf16, vLLM): the job passes its own,
the export the GPU machine its YAML is written for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.generation import vllm_available
from training.grpo_config import GRPOJobConfig


@dataclass(frozen=True)
class Machine:
    """Where the trainer runs, as far as TRL's arguments depend on it."""

    cuda: bool
    bf16: bool
    vllm: bool  # the vllm package and a CUDA GPU

    @classmethod
    def here(cls) -> Machine:
        import torch

        cuda = bool(torch.cuda.is_available())
        return cls(cuda=cuda, bf16=cuda and torch.cuda.is_bf16_supported(), vllm=vllm_available())


# What the exported YAML is written for: a CUDA GPU with bf16, set up with requirements-gpu.txt (which installs
# vllm). The YAML's header says which three flags to override on a CPU.
GPU_MACHINE = Machine(cuda=True, bf16=True, vllm=True)


def resolve_use_vllm(setting: str, machine: Machine) -> bool:
    """The config's use_vllm (auto/on/off) on a machine: auto = on where vllm and CUDA are present."""
    return setting == "on" or (setting == "auto" and machine.vllm)


def trl_kwargs(config: GRPOJobConfig, machine: Machine | None = None) -> dict[str, Any]:
    """TRL GRPOConfig keyword arguments of a grpo job, less output_dir and run_name (where the run lives).

    One optimizer step = prompts_per_step prompts x group_size completions, generated together (TRL's
    steps_per_generation = gradient_accumulation_steps), then gradient accumulation over micro-batches.
    """
    machine = machine or Machine.here()
    per_process = config.prompts_per_step * config.group_size // config.num_processes
    micro = config.micro_batch_size or per_process
    return {
        "use_cpu": not machine.cuda,
        "bf16": machine.cuda and machine.bf16,
        "per_device_train_batch_size": micro,
        "gradient_accumulation_steps": per_process // micro,
        "num_generations": config.group_size,
        "max_completion_length": config.max_completion_length,
        "mask_truncated_completions": config.mask_truncated_completions,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": "constant",
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "beta": config.beta,
        "epsilon": config.epsilon,
        "loss_type": config.loss_type,
        "scale_rewards": "group",
        "max_steps": config.steps,
        "logging_steps": 1,
        "save_strategy": "steps",
        "save_steps": config.save_every,
        "seed": config.seed,
        "data_seed": config.seed,
        "activation_checkpointing": config.gradient_checkpointing,
        "use_vllm": resolve_use_vllm(config.use_vllm, machine),
        "vllm_mode": "colocate",
        # A tracker mirrors TRL's logs (rank 0 only); storage stays the record. trackio stays local: no Space.
        # TRL turns "none" into [] and a name into [name].
        "report_to": config.report_to,
        "project": "iflab",
        "trackio_static_space_id": False,
        "disable_tqdm": True,
        "log_completions": False,
        "dataloader_num_workers": 0,
    }


def lora_kwargs(config: GRPOJobConfig) -> dict[str, Any]:
    """peft LoraConfig keyword arguments of a grpo job with lora on."""
    return {
        "r": config.lora_rank,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": 0.0,
        "target_modules": "all-linear",
        "task_type": "CAUSAL_LM",
    }


# LoraConfig argument -> TRL ModelConfig field (how `trl grpo` spells it; TRL builds the LoraConfig from them).
MODEL_CONFIG_LORA_FIELDS = {
    "r": "lora_r",
    "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout",
    "target_modules": "lora_target_modules",
    "task_type": "lora_task_type",
}


def model_config_lora_kwargs(config: GRPOJobConfig) -> dict[str, Any]:
    """lora_kwargs as TRL ModelConfig fields (use_peft and lora_*); {} with lora off. A LoraConfig argument
    without a ModelConfig spelling fails here (KeyError) rather than go missing from the export."""
    if not config.lora:
        return {}
    return {"use_peft": True, **{MODEL_CONFIG_LORA_FIELDS[k]: v for k, v in lora_kwargs(config).items()}}
