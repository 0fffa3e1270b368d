"""GRPO rollouts on a lab.generation engine (the torch engine or CTranslate2), through TRL's `rollout_func`.

Before each step's generation the policy's current weights (LoRA merged, the policy untouched) are converted into
the engine; that sync and the generation are timed and logged with the step's metrics (engine/sync_s,
engine/generate_s). Prompts are tokenized by the trainer itself, so the engine sees TRL's exact prompt ids. Any
failure logs a line and hands this and every later step to TRL's own transformers generation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

_SEED_STRIDE = 1_000_003  # distinct sampling seeds per (seed, step), the same again when a step is redone on resume


class EngineRollout:
    """A TRL rollout_func: `rollout(prompts, trainer) -> {"prompt_ids", "completion_ids", "logprobs"}`."""

    def __init__(self, engine_name: str = "torch") -> None:
        self.engine_name = engine_name
        self.engine: Any = None
        self.synced_step: int | None = None
        self.failed = False

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        prompt_ids, images, fields = trainer._tokenize_prompts(prompts)
        if not self.failed:
            try:
                return self._rollout(prompt_ids, trainer)
            except Exception as error:  # the fast path must never stop training
                self.failed, self.engine = True, None
                log.warning(
                    "generation: %s rollouts failed (%r); using TRL's transformers generate", self.engine_name, error
                )
        completion_ids, logprobs = trainer._generate_single_turn(prompt_ids, images, fields, trainer.num_generations)
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": logprobs}

    def _rollout(self, prompt_ids: list[list[int]], trainer: Any) -> dict[str, Any]:
        from lab.generation import Sampling

        if getattr(trainer, "min_p", None):  # before the weight sync: nothing to convert for a step TRL takes over
            raise NotImplementedError("min_p sampling is not implemented by lab.generation's engines")
        step = int(trainer.state.global_step)
        policy = trainer.accelerator.unwrap_model(trainer.model)
        tokenizer = trainer.processing_class
        started = time.monotonic()
        if self.engine is None:
            self.engine = _engine_class(self.engine_name).from_model(policy, tokenizer, list(trainer.eos_token_ids))
        elif self.synced_step != step:
            self.engine.reload_from(policy, tokenizer)
        self.synced_step = step
        synced = time.monotonic()
        sampling = Sampling(
            max_new_tokens=int(trainer.max_completion_length),
            temperature=float(trainer.temperature),
            top_p=float(trainer.top_p if trainer.top_p is not None else 1.0),
            top_k=int(trainer.top_k or 0),
            repetition_penalty=float(trainer.repetition_penalty or 1.0),
            seed=(int(trainer.args.seed) * _SEED_STRIDE + step) % 2**31,
        )
        completions = self.engine.generate(prompt_ids, sampling, batch_size=len(prompt_ids))
        done = time.monotonic()
        # TRL's own generation keeps the end token in the completion (its mask ends on it): so do we.
        completion_ids = [list(c.ids) + ([c.end_id] if c.stopped else []) for c in completions]
        metrics = trainer._metrics["train" if trainer.model.training else "eval"]
        metrics["engine/sync_s"].append(synced - started)
        metrics["engine/generate_s"].append(done - synced)
        return {"prompt_ids": prompt_ids, "completion_ids": completion_ids, "logprobs": None}


def _engine_class(name: str) -> Any:
    if name == "ctranslate2":
        # float32 unless LAB_GENERATION_COMPUTE_TYPE (e.g. int8_float32: an int8 copy of the policy)
        from lab.generation.ct2_engine import CTranslate2Engine

        return CTranslate2Engine
    from lab.generation.torch_engine import TorchEngine

    return TorchEngine


def rollout_engine(generation_engine: str, use_vllm: bool, num_processes: int) -> str | None:
    """The lab.generation engine that replaces TRL's generate ('torch' or 'ctranslate2'), or None for TRL's own:
    only in a single CPU process without vLLM."""
    from lab.generation import resolve_engine

    if use_vllm or num_processes != 1:
        return None
    name = resolve_engine(generation_engine)
    return name if name in ("torch", "ctranslate2") else None
