"""The grpo job's config: one documented dataclass (UI form, CLI YAML and worker alike) and its checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from lab.errors import LabError
from lab.generation import vllm_available
from lab.model_access import check_remote_code
from lab.random_seed import MAX_SEED
from training import refs

LossType = Literal["grpo", "dr_grpo", "dapo", "bnpo"]  # TRL's loss_type values the job offers
LOSS_TYPES: tuple[str, ...] = get_args(LossType)


@dataclass
class GRPOJobConfig:
    """GRPO (TRL GRPOTrainer) on a curriculum dataset with constraint rewards; LoRA by default."""

    # Model, data, reward
    model: str = field(
        default="bundled",
        metadata={"help": "Policy to train: 'bundled', a folder, a hub id, a checkpoint id or 'run:<id>'."},
    )
    dataset: str = field(
        default="", metadata={"help": "Training rows: a stored dataset id, 'run:<id>' of a dataset run, or a file."}
    )
    reward_model: str = field(
        default="",
        metadata={"help": "Soft-constraint RM: checkpoint id, 'run:<id>' or folder; empty = hard constraints only."},
    )
    hard_mode: Literal["strict", "loose"] = field(
        default="strict", metadata={"help": "IFEval verdict that scores hard constraints during training."}
    )
    soft_reward: Literal["probability", "binary"] = field(
        default="probability",
        metadata={
            "help": "How a soft constraint enters the reward: probability = the RM's P(adheres) (the paper's), "
            "binary = 1 when P(adheres) >= 0.5, else 0 (an ablation)."
        },
    )
    rule_rewards: bool = field(
        default=True,
        metadata={
            "help": "Score hard constraints by code (the paper's). false = an ablation: hard constraints weigh 0, "
            "the reward is the RM's soft scores (and math answers) only; needs a reward_model."
        },
    )
    # Schedule
    steps: int = field(
        default=50,
        metadata={
            "help": "Optimizer steps (each: prompts_per_step x group_size rollouts).",
            "min": 1,
            "max": 1_000_000,
        },
    )
    prompts_per_step: int = field(default=4, metadata={"help": "Distinct prompts per step.", "min": 1, "max": 4096})
    group_size: int = field(
        default=4, metadata={"help": "Completions per prompt (GRPO's group; the paper: 5).", "min": 2, "max": 1024}
    )
    micro_batch_size: int = field(
        default=0,
        metadata={
            "help": "Completions per forward/backward pass (gradient accumulation over the step); 0 = all at once. "
            "On CPU 4 is much faster than 16+: large-vocabulary logits make big passes memory-bound.",
            "min": 0,
            "max": 4096,
        },
    )
    learning_rate: float = field(
        default=1e-5,
        metadata={"help": "Constant learning rate (paper: 1e-6 full FT), in (0, 1].", "min": 0.0, "max": 1.0},
    )
    beta: float = field(
        default=0.0,
        metadata={"help": "KL coefficient; 0 = no reference model (the paper's setting).", "min": 0.0, "max": 100.0},
    )
    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range.", "min": 0.0, "max": 1.0})
    loss_type: LossType = field(default="dapo", metadata={"help": f"TRL loss: one of {', '.join(LOSS_TYPES)}."})
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW weight decay (paper: 0.01).", "min": 0.0, "max": 1.0}
    )
    max_grad_norm: float = field(
        default=1.0, metadata={"help": "Gradient clipping (paper: 1.0).", "min": 0.0, "max": 1e6}
    )
    seed: int = field(
        default=0, metadata={"help": "Random seed (data order, sampling, LoRA init).", "min": 0, "max": MAX_SEED}
    )
    # Generation
    temperature: float = field(
        default=1.0, metadata={"help": "Sampling temperature of the rollouts (paper: 1.0).", "min": 0.0, "max": 10.0}
    )
    top_p: float = field(
        default=1.0, metadata={"help": "Nucleus sampling mass of the rollouts, in (0, 1].", "min": 0.0, "max": 1.0}
    )
    max_completion_length: int = field(
        default=256, metadata={"help": "Longest rollout, in tokens.", "min": 1, "max": 32768}
    )
    mask_truncated_completions: bool = field(
        default=False,
        metadata={
            "help": "Leave completions cut at max_completion_length out of the loss (DAPO's overlong filtering), so "
            "a short token limit does not teach shorter answers by punishing every long one."
        },
    )
    use_vllm: Literal["auto", "on", "off"] = field(
        default="auto", metadata={"help": "vLLM generation: auto = on when CUDA and vllm are present."}
    )
    generation_engine: Literal["auto", "torch", "ctranslate2", "transformers"] = field(
        default="transformers",
        metadata={
            "help": "Rollout engine when vLLM is off: transformers = TRL's own generate (the default); torch = "
            "lab.generation's torch engine, the policy's weights (LoRA merged) read into it before every step: "
            "with the shared-prompt pass 1.92x faster per cpu-30min step than TRL's generate with TRL's pass "
            "(cpu-30min uses it; README, Fast generation); auto = torch on CPU; ctranslate2 = the policy "
            "converted into CTranslate2 every step. LAB_GENERATION_ENGINE=transformers forces TRL's."
        },
    )
    # Parameter-efficient training
    lora: bool = field(
        default=True, metadata={"help": "Train LoRA adapters (checkpoints are adapters) or all weights."}
    )
    lora_rank: int = field(default=16, metadata={"help": "LoRA rank.", "min": 1, "max": 1024})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha (scale = alpha / rank).", "min": 1, "max": 8192})
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "Trade compute for memory (slower; for long completions on GPU)."}
    )
    share_prompt_forward: bool = field(
        default=True,
        metadata={
            "help": "Score a group's completions on one forward pass of their shared prompt (the same log-probs "
            "and gradients as TRL's per-row pass, up to rounding; ~40 % fewer tokens on cpu-30min). false = "
            "TRL's own pass.",
            "speed_only": True,  # what is learned does not depend on it: an experiment reuses runs across it
        },
    )
    # Checkpoints, logging, scale-out
    save_every: int = field(
        default=25,
        metadata={"help": "Save and register a checkpoint every N steps (and at the end).", "min": 1, "max": 1_000_000},
    )
    sample_every: int = field(
        default=5,
        metadata={"help": "Store completions with breakdowns every K steps (0 = never).", "min": 0, "max": 1_000_000},
    )
    samples_per_log: int = field(
        default=16,
        metadata={
            "help": "Completions stored each time, in whole groups (rounded up to a multiple of group_size), with "
            "rewards and group advantages for the rollout inspector.",
            "min": 0,
            "max": 1024,
        },
    )
    report_to: Literal["none", "trackio", "wandb", "tensorboard"] = field(
        default="none",
        metadata={
            "help": "Also send TRL's logs to a tracker (IF-Lab's storage stays the record): trackio (local SQLite "
            "under $TRACKIO_DIR), wandb (needs wandb and a login, or WANDB_MODE=offline), tensorboard (event "
            "files under the run's grpo/runs/)."
        },
    )
    num_processes: int = field(
        default=1,
        metadata={
            "help": "Processes (GPUs) for `accelerate launch`; 1 = in the job's own process.",
            "min": 1,
            "max": 1024,
        },
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Run a checkpoint's own Python code."})

    def validate(self) -> None:
        check_remote_code(self.trust_remote_code)  # needs the operator's LAB_ALLOW_REMOTE_CODE=1
        for name in ("steps", "prompts_per_step", "max_completion_length", "save_every", "lora_rank", "lora_alpha"):
            if getattr(self, name) < 1:
                raise LabError(f"must be >= 1, got {getattr(self, name)}", field=name)
        if self.group_size < 2:
            raise LabError(
                f"must be >= 2 (GRPO compares completions within a group), got {self.group_size}", "group_size"
            )
        for name in ("sample_every", "samples_per_log", "beta", "weight_decay"):
            if getattr(self, name) < 0:
                raise LabError(f"must be >= 0, got {getattr(self, name)}", field=name)
        if self.learning_rate <= 0:
            raise LabError(f"must be > 0, got {self.learning_rate}", field="learning_rate")
        if self.temperature <= 0:
            raise LabError(
                f"must be > 0 (GRPO needs different completions per group), got {self.temperature}", "temperature"
            )
        if not 0 < self.top_p <= 1:
            raise LabError(f"must be in (0, 1], got {self.top_p}", field="top_p")
        if self.num_processes < 1:
            raise LabError(f"must be >= 1, got {self.num_processes}", field="num_processes")
        if (self.prompts_per_step * self.group_size) % self.num_processes:
            raise LabError(
                f"prompts_per_step x group_size ({self.prompts_per_step * self.group_size}) must divide evenly "
                f"over num_processes ({self.num_processes})",
                field="num_processes",
            )
        if self.micro_batch_size < 0 or (
            self.micro_batch_size
            and (self.prompts_per_step * self.group_size) % (self.micro_batch_size * self.num_processes)
        ):
            raise LabError(
                f"must be 0 or divide prompts_per_step x group_size / num_processes "
                f"({self.prompts_per_step * self.group_size // self.num_processes}), got {self.micro_batch_size}",
                field="micro_batch_size",
            )
        if self.use_vllm == "on" and not vllm_available():
            raise LabError(
                "vLLM needs a CUDA GPU and the vllm package (requirements-gpu.txt); use auto or off", "use_vllm"
            )
        check_tracker(self.report_to)
        if refs.run_ref(self.model) is not None:
            refs.check_run_ref(self.model, "grpo", "model")
        else:
            refs.resolve_model(self.model, "model")
        if refs.run_ref(self.dataset) is not None:
            refs.check_run_ref(self.dataset, "dataset", "dataset")
        else:
            check_grpo_dataset(refs.read_rows(refs.resolve_dataset(self.dataset)))
        if not self.rule_rewards and not self.reward_model.strip():
            raise LabError(
                "false needs a reward_model: with neither rule rewards nor an RM nothing scores a constraint",
                field="rule_rewards",
            )
        if self.reward_model.strip():
            if refs.run_ref(self.reward_model) is not None:
                refs.check_run_ref(self.reward_model, "reward_model", "reward_model")
            else:
                from lab.rm_scorer import read_rm_info

                read_rm_info(refs.resolve_checkpoint(self.reward_model, "reward_model"))


TRACKER_PACKAGES = {"trackio": ("trackio",), "wandb": ("wandb",), "tensorboard": ("tensorboard", "tensorboardX")}


def check_tracker(report_to: str) -> None:
    """Refuse a tracker whose package is missing now, rather than after the policy has loaded."""
    import importlib.util

    packages = TRACKER_PACKAGES.get(report_to, ())
    if packages and not any(importlib.util.find_spec(name) for name in packages):
        raise LabError(f"{report_to} is not installed here: pip install {packages[0]}, or use none", "report_to")


def check_grpo_dataset(rows: list[dict[str, Any]]) -> None:
    """Refuse a dataset with nothing to reward: no rows, or rows with neither constraints nor a math answer."""
    if not rows:
        raise LabError("the dataset is empty", field="dataset")
    rewarded = [r for r in rows if r.get("instruction_id_list") or (r.get("source") == "math" and r.get("answer"))]
    if not rewarded:
        raise LabError("no row has constraints or a math answer, so no reward can be computed", field="dataset")
    missing = next((i for i, r in enumerate(rows) if not str(r.get("prompt") or "").strip()), None)
    if missing is not None:
        raise LabError(f"row {missing + 1} has no prompt", field="dataset")
