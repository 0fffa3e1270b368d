"""The `grpo` job: TRL's GRPOTrainer on a curriculum dataset; reward = mean over constraints (hard 0/1, soft =
RM probability), math exact match, 0 for an unclosed think block. Metrics, samples and checkpoints go to storage.

`python -m training run grpo --config FILE.yaml`. Multi-GPU: num_processes > 1 makes the job re-launch its
training under `accelerate launch` (training/grpo_launch.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lab.errors import LabError
from training import refs
from training.grpo_config import GRPOJobConfig, check_grpo_dataset
from training.grpo_trl import lora_kwargs, trl_kwargs
from training.registry import JobContext, JobKind, register_kind

__all__ = ["GRPOJobConfig", "build_trainer", "check_grpo_dataset", "run", "train", "training_rows", "trl_args"]

OUTPUT_SUBDIR = "grpo"


# ---------------------------------------------------------------- building blocks


def rewardable(row: dict[str, Any], soft_scored: bool, rule_rewards: bool = True) -> bool:
    """Whether the reward can score this row: a math answer, a hard constraint (with rule rewards), or a soft one
    with an RM."""
    if row.get("source") == "math" and row.get("answer"):
        return True
    from lab.constraints.registry import get_type

    kinds = {get_type(t).kind for t in row.get("instruction_id_list") or []}
    return ("hard" in kinds and rule_rewards) or ("soft" in kinds and soft_scored)


def reward_weights(config: GRPOJobConfig) -> dict[str, float] | None:
    """lab.reward's weights for the job: None (every constraint counts 1), or hard constraints at 0 without rule
    rewards."""
    return None if config.rule_rewards else {"hard": 0.0}


def training_rows(
    rows: list[dict[str, Any]], chat: bool, soft_scored: bool, rule_rewards: bool = True
) -> dict[str, list[Any]]:
    """Columns for a datasets.Dataset, without rows nothing can score (soft-only rows when there is no RM, hard-only
    rows without rule rewards: they would cost rollouts and teach nothing). kwargs travel as JSON text: Arrow would
    merge every row's parameter names into one struct type (and fail on mixed value types); lab.reward parses the
    JSON back."""
    rows = [r for r in rows if rewardable(r, soft_scored, rule_rewards)]
    if not rows:
        raise LabError(
            "no row can be rewarded: every row has only soft constraints and no reward_model is set"
            if rule_rewards
            else "no row can be rewarded: no row has a soft constraint or a math answer (rule_rewards is false)",
            "dataset",
        )
    return {
        "prompt": [[{"role": "user", "content": r["prompt"]}] if chat else r["prompt"] for r in rows],
        "instruction_id_list": [list(r.get("instruction_id_list") or []) for r in rows],
        "kwargs": [json.dumps(r.get("kwargs") or [], sort_keys=True) for r in rows],
        "constraints": [list(r.get("constraints") or []) for r in rows],
        "source": [str(r.get("source") or "") for r in rows],
        "answer": [None if r.get("answer") is None else str(r["answer"]) for r in rows],
        "answer_match": [str(r.get("answer_match") or "") for r in rows],  # "" = the boxed answer
        "level": [int(r.get("level") or 0) for r in rows],
        "group_id": [str(r.get("group_id") or "") for r in rows],
    }


def base_spec(model_ref: str) -> str:
    """The spec a LoRA checkpoint records as its base: stable across $LAB_HOME moves for the bundled model."""
    from lab.models import resolve_model_spec

    source = resolve_model_spec(model_ref)
    return source.spec if source.kind in ("bundled", "hub") else str(Path(source.location).resolve())


def load_policy(spec: str, work_dir: Path, trust_remote_code: bool) -> tuple[Any, Any, str]:
    """A private (uncached, trainable) copy of the policy, its tokenizer and the base spec checkpoints record.

    An adapter checkpoint is merged into its base and saved once under the run folder, so new adapters trained
    on top of it have a plain base folder to load against.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lab.model_access import check_remote_code
    from lab.models import ensure_bundled_checkpoint, resolve_model_spec

    check_remote_code(trust_remote_code)  # again here: a job queued before the operator withdrew the opt-in
    source = resolve_model_spec(spec)
    if source.kind == "bundled" or (source.base is not None and source.base.kind == "bundled"):
        ensure_bundled_checkpoint()
    dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    kwargs = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    if source.kind == "adapter":
        from peft import PeftModel

        merged_dir = work_dir / "base-merged"
        if not (merged_dir / "config.json").is_file():
            base = AutoModelForCausalLM.from_pretrained(source.base.location, **kwargs)
            merged = PeftModel.from_pretrained(base, source.location).merge_and_unload()
            merged.save_pretrained(merged_dir)
            AutoTokenizer.from_pretrained(source.location).save_pretrained(merged_dir)
        spec = str(merged_dir)
        source = resolve_model_spec(spec)
    model = AutoModelForCausalLM.from_pretrained(source.location, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source.location, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, base_spec(spec)


def trl_args(config: GRPOJobConfig, output_dir: Path, run_name: str | None = None) -> Any:
    """The GRPOConfig of a job on this machine: training/grpo_trl.py's trl_kwargs (the export's too), placed in
    the run's folder and named after the run."""
    from trl import GRPOConfig

    return GRPOConfig(output_dir=str(output_dir), run_name=run_name, **trl_kwargs(config))


def reward_function(config: GRPOJobConfig) -> tuple[Any, Any]:
    """(TRL reward function, soft scorer or None)."""
    from lab.trl_reward import make_trl_reward

    scorer = None
    if config.reward_model.strip():
        from lab.rm_scorer import load_rm_scorer
        from training.rm_quality import verdict_for_folder

        folder = refs.resolve_checkpoint(config.reward_model, "reward_model")
        verdict = verdict_for_folder(folder)
        warning = "warning: " if verdict.adds_noise else ""
        print(f"[grpo] {warning}reward model {config.reward_model}: {verdict.text}", flush=True)
        scorer = load_rm_scorer(folder)
        if config.soft_reward == "binary":
            from lab.rm_scorer import BinaryScorer

            scorer = BinaryScorer(scorer)
    reward = make_trl_reward(soft_scorer=scorer, weights=reward_weights(config), hard_mode=config.hard_mode)
    return reward, scorer


def rollout_func(config: GRPOJobConfig, use_vllm: bool) -> Any:
    """lab.generation rollouts (training/grpo_rollout.py) where they apply, else None: TRL generates itself."""
    from training.grpo_rollout import EngineRollout, rollout_engine

    engine = rollout_engine(config.generation_engine, use_vllm, config.num_processes)
    return EngineRollout(engine) if engine else None


def resume_checkpoint(ctx: JobContext, output_dir: Path) -> Path | None:
    """The newest Trainer checkpoint of this run that can be resumed (it has trainer_state.json)."""
    last = ctx.last_checkpoint()
    if last is not None and (Path(last[1]) / "trainer_state.json").is_file():
        return Path(last[1])
    candidates = sorted(output_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    candidates = [p for p in candidates if (p / "trainer_state.json").is_file()]
    return candidates[-1] if candidates else None


def build_trainer(config: GRPOJobConfig, ctx: JobContext, output_dir: Path) -> tuple[Any, Any]:
    """(GRPOTrainer, StorageCallback) for the job; also used by the overhead benchmark."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOTrainer

    from lab.reward import breakdown
    from training.grpo_callbacks import CompletionRecorder, StorageCallback

    rows = refs.read_rows(refs.resolve_dataset(config.dataset))
    check_grpo_dataset(rows)
    model, tokenizer, base = load_policy(refs.resolve_model(config.model), Path(ctx.work_dir), config.trust_remote_code)
    chat = bool(getattr(tokenizer, "chat_template", None))
    reward_func, scorer = reward_function(config)
    train_dataset = Dataset.from_dict(
        training_rows(rows, chat, soft_scored=scorer is not None, rule_rewards=config.rule_rewards)
    )
    recorder = CompletionRecorder(reward_func)
    peft_config = LoraConfig(**lora_kwargs(config)) if config.lora else None
    info = {
        "kind": "grpo", "type": "lora" if config.lora else "full", "base": base, "run_id": ctx.run_id,
        "reward_model": config.reward_model or None,
    }  # fmt: skip
    callback = StorageCallback(
        ctx,
        recorder,
        lambda row, response: breakdown(
            row, response, scorer, weights=reward_weights(config), hard_mode=config.hard_mode
        ),
        info,
        config.sample_every,
        config.samples_per_log,
        config.group_size,
    )
    args = trl_args(config, output_dir, run_name=f"iflab-run-{ctx.run_id}")
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[recorder],
        args=args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        rollout_func=rollout_func(config, args.use_vllm),
        callbacks=[callback],
    )
    if config.share_prompt_forward:
        from training.grpo_shared_prompt import share_prompt_forward

        share_prompt_forward(trainer)
    return trainer, callback


def run(config: GRPOJobConfig, ctx: JobContext) -> dict[str, Any]:
    waits = [(config.dataset, "dataset"), (config.reward_model, "reward_model"), (config.model, "model")]
    if not refs.await_run_refs(waits, ctx.should_stop):
        return {"stopped": "before start"}
    if config.num_processes > 1:
        from training.grpo_launch import run_distributed

        return run_distributed(config, ctx)
    return train(config, ctx)


def train(config: GRPOJobConfig, ctx: JobContext) -> dict[str, Any]:
    """GRPO in this process (under `accelerate launch`: in each rank; only rank 0's context writes)."""
    output_dir = Path(ctx.work_dir) / OUTPUT_SUBDIR
    output_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    ctx.progress(0, config.steps, "loading the policy, reward and data")
    trainer, callback = build_trainer(config, ctx, output_dir)
    save_checkpoint = trainer._save_checkpoint

    def save_named(*args: Any, **kwargs: Any) -> Any:  # a full disk then reads "while saving checkpoint-N"
        with ctx.doing(f"saving checkpoint-{trainer.state.global_step}"):
            return save_checkpoint(*args, **kwargs)

    trainer._save_checkpoint = save_named
    resume = resume_checkpoint(ctx, output_dir)
    # Steps after the checkpoint are trained again: their rows from the killed attempt must not stay beside.
    resumed_step = int(resume.name.split("-")[-1]) if resume is not None else 0
    ctx.resume_from(resumed_step)
    if resume is not None:
        ctx.progress(resumed_step, config.steps, f"resuming from {resume.name}")
    from training.grpo_callbacks import stop_mid_step

    with stop_mid_step(trainer, ctx.should_stop, callback):
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    step = trainer.state.global_step
    if trainer.state.is_world_process_zero and (not callback.registered or callback.registered[-1][0] != step):
        # Resumed at the last step (nothing to train) or stopped between saves: make sure a checkpoint exists.
        if not (output_dir / f"checkpoint-{step}").is_dir():
            trainer._save_checkpoint(trainer.model, trial=None)
        callback.on_save(trainer.args, trainer.state, trainer.control)
    result = {
        "steps": step,
        "checkpoints": [cid for _, cid in callback.registered],
        "final_checkpoint": str(output_dir / f"checkpoint-{step}"),
        "stopped": callback.stopped_by_request,
        **{k: v for k, v in callback.last_logs.items() if k in ("reward", "reward_std", "train_runtime")},
    }
    return result


register_kind(JobKind(name="grpo", config_cls=GRPOJobConfig, run=run, help=GRPOJobConfig.__doc__ or ""))
