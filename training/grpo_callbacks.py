"""TRL/Trainer hooks of the grpo job: every logged scalar -> ctx.log_metrics, sampled completions with their
breakdowns -> ctx.log_samples, checkpoints -> ctx.register_checkpoint, cancel -> save and stop."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from training.registry import JobContext

CHECKPOINT_INFO = "lab_checkpoint.json"


class CompletionRecorder:
    """Wraps a TRL reward function and keeps the last batch it scored, so samples need no second generation."""

    def __init__(self, reward_func: Callable[..., list[float | None]]) -> None:
        self.reward_func = reward_func
        self.__name__ = getattr(reward_func, "__name__", "reward")
        self.last: dict[str, Any] | None = None

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
        rewards = self.reward_func(prompts=prompts, completions=completions, **columns)
        self.last = {"prompts": list(prompts), "completions": list(completions), "columns": columns, "rewards": rewards}
        return rewards


def prompt_text(prompt: Any) -> str:
    """The user's text of a conversational or plain prompt."""
    if isinstance(prompt, str):
        return prompt
    return "\n".join(
        str(m.get("content", "")) for m in prompt or [] if isinstance(m, Mapping) and m.get("role") == "user"
    )


def finite_scalars(logs: Mapping[str, Any]) -> dict[str, float]:
    """Numbers only (TRL logs None for metrics with no valid value this step); bools and NaN dropped."""
    out = {}
    for name, value in logs.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[name] = float(value)
    return out


def write_checkpoint_info(folder: Path, info: Mapping[str, Any]) -> None:
    """Record what a checkpoint is (full | lora) and, for LoRA, the base spec it loads against.

    PEFT writes the base's absolute path into adapter_config.json; we replace it with the spec (for the bundled
    model 'bundled:...') so the adapter still finds its base after $LAB_HOME moves.
    """
    (folder / CHECKPOINT_INFO).write_text(json.dumps(dict(info), indent=2), encoding="utf-8")
    adapter_config = folder / "adapter_config.json"
    if info.get("type") == "lora" and adapter_config.is_file():
        config = json.loads(adapter_config.read_text(encoding="utf-8"))
        config["base_model_name_or_path"] = info["base"]
        adapter_config.write_text(json.dumps(config, indent=2), encoding="utf-8")


class StorageCallback(TrainerCallback):
    """Bridges the Trainer to the job context (storage): metrics, samples, checkpoints, progress and cancel."""

    def __init__(
        self,
        ctx: JobContext,
        recorder: CompletionRecorder,
        breakdown_fn: Callable[[Mapping[str, Any], str], Any],
        checkpoint_info: Mapping[str, Any],
        sample_every: int,
        samples_per_log: int,
    ) -> None:
        self.ctx = ctx
        self.recorder = recorder
        self.breakdown_fn = breakdown_fn
        self.checkpoint_info = dict(checkpoint_info)
        self.sample_every = sample_every
        self.samples_per_log = samples_per_log
        self.stopped_by_request = False
        self.last_logs: dict[str, float] = {}
        self.registered: list[tuple[int, int]] = []  # (step, checkpoint id)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        step = state.global_step
        self.ctx.progress(step, state.max_steps, f"GRPO step {step}/{state.max_steps}")
        if self.sample_every and step % self.sample_every == 0 and state.is_world_process_zero:
            self._log_samples(step)
        if self.ctx.should_stop():
            # Cancel or shutdown: the Trainer saves this step's checkpoint, then leaves train().
            self.stopped_by_request = True
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        if not state.is_world_process_zero:
            return control
        values = finite_scalars(logs or {})
        if "learning_rate" in values:
            values["lr"] = values["learning_rate"]
        if values:
            self.last_logs.update(values)
            self.ctx.log_metrics(state.global_step, values)
        return control

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        step = state.global_step
        folder = Path(args.output_dir) / f"checkpoint-{step}"
        if not folder.is_dir() or not state.is_world_process_zero:
            return control
        info = {**self.checkpoint_info, "step": step}
        write_checkpoint_info(folder, info)
        meta = {**info, **{k: self.last_logs[k] for k in ("reward", "reward_std") if k in self.last_logs}}
        self.registered.append((step, self.ctx.register_checkpoint(step, folder, meta)))
        return control

    def _log_samples(self, step: int) -> None:
        from lab.trl_reward import completion_text

        last = self.recorder.last
        if not last:
            return
        prompts, completions, columns = last["prompts"], last["completions"], last["columns"]
        n = len(completions)
        # One completion per distinct prompt first, so the samples show different prompts.
        seen: set[str] = set()
        picked: list[int] = []
        for i in range(n):
            key = prompt_text(prompts[i])
            if key not in seen:
                seen.add(key)
                picked.append(i)
        picked = (picked + [i for i in range(n) if i not in picked])[: self.samples_per_log]
        samples = []
        for i in picked:
            row = {k: v[i] for k, v in columns.items() if isinstance(v, list | tuple) and len(v) == n}
            response = completion_text(completions[i])
            result = self.breakdown_fn(row, response)
            samples.append(
                {
                    "prompt": prompt_text(prompts[i]),
                    "response": response,
                    "breakdown": result.to_dict(),
                    "reward": result.reward,
                    "meta": {k: row.get(k) for k in ("level", "source", "group_id") if k in row},
                }
            )
        if samples:
            self.ctx.log_samples(step, samples)
