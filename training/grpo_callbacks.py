"""TRL/Trainer hooks of the grpo job: every logged scalar -> ctx.log_metrics, sampled completions with their
breakdowns -> ctx.log_samples, checkpoints -> ctx.register_checkpoint, cancel or SIGTERM -> stop mid-step, save."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
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
        group_size: int = 1,
    ) -> None:
        self.ctx = ctx
        self.recorder = recorder
        self.breakdown_fn = breakdown_fn
        self.checkpoint_info = dict(checkpoint_info)
        self.sample_every = sample_every
        self.samples_per_log = samples_per_log
        self.group_size = group_size
        self.stopped_by_request = False
        self.last_logs: dict[str, float] = {}
        self.registered: list[tuple[int, int]] = []  # (step, checkpoint id)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        # A step spends most of its time generating; say so (a message only: the bar and the ETA stay put).
        step, total = state.global_step, state.max_steps
        self.ctx.progress(step, total, f"GRPO step {step + 1}/{total}: generating and scoring completions")
        return control

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

    def on_substep_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        # Between micro-batches: leave now; the step's partial gradients are dropped and grpo.train saves the
        # last finished step. One process only: a rank leaving alone would hang the others.
        if args.world_size == 1 and self.ctx.should_stop():
            self.stopped_by_request = True
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
        """Store whole groups (every completion of a prompt) with rewards and GRPO advantages: the rollout
        inspector shows a group side by side, and a zero-variance group (all advantages 0) teaches nothing."""
        from lab.trl_reward import completion_text

        last = self.recorder.last
        if not last or self.samples_per_log <= 0:
            return
        prompts, completions, columns = last["prompts"], last["completions"], last["columns"]
        n = len(completions)
        groups = rollout_groups([prompt_text(p) for p in prompts], self.group_size)
        wanted = max(1, -(-self.samples_per_log // max(1, self.group_size)))  # whole groups, rounded up
        samples = []
        for g, members in enumerate(groups[:wanted]):
            rewards = [_number(last["rewards"][i]) for i in members]
            advantages, mean, std = group_advantages(rewards)
            for j, i in enumerate(members):
                row = {k: v[i] for k, v in columns.items() if isinstance(v, list | tuple) and len(v) == n}
                response = completion_text(completions[i])
                result = self.breakdown_fn(row, response)
                meta = {k: row.get(k) for k in ("level", "source", "group_id") if k in row}
                meta |= {"group": g, "member": j, "advantage": advantages[j], "group_mean": mean, "group_std": std}
                samples.append(
                    {
                        "prompt": prompt_text(prompts[i]),
                        "response": response,
                        "breakdown": result.to_dict(),
                        "reward": result.reward,
                        "meta": meta,
                    }
                )
        if samples:
            self.ctx.log_samples(step, samples)


def _number(value: Any) -> float:
    """A reward as TRL sums it: None (the function did not apply) counts as 0 (TRL's nansum)."""
    return 0.0 if value is None or not math.isfinite(float(value)) else float(value)


def rollout_groups(prompts: Sequence[str], group_size: int) -> list[list[int]]:
    """Indices of each prompt's group of completions, in order. TRL repeats a prompt group_size times in a row;
    grouping by text (then cutting into group_size chunks) also holds if a prompt appears twice in a step."""
    by_text: dict[str, list[int]] = {}
    for i, text in enumerate(prompts):
        by_text.setdefault(text, []).append(i)
    size = max(1, group_size)
    return [idx[k : k + size] for idx in by_text.values() for k in range(0, len(idx), size)]


def group_advantages(rewards: Sequence[float]) -> tuple[list[float], float, float]:
    """TRL's scale_rewards="group": (r - group mean) / (group std + 1e-4), std unbiased as torch's; mean, std."""
    n = len(rewards)
    mean = sum(rewards) / n if n else 0.0
    std = math.sqrt(sum((r - mean) ** 2 for r in rewards) / (n - 1)) if n > 1 else 0.0
    return [(r - mean) / (std + 1e-4) for r in rewards], mean, std


class StopRequested(BaseException):
    """Raised inside a forward pass once the job is asked to stop: the step ends at once, not minutes later.
    A BaseException, like KeyboardInterrupt, so `except Exception` fallbacks on the way do not swallow it."""


_active_stop: list[Callable[[], bool]] = []  # the should_stop of the GRPO training running in this process


def stop_requested() -> bool:
    """For generation that does not run the policy's forward (an engine's per-token callback): True once the
    training in this process was asked to stop. Such generation may end early: the step is dropped anyway."""
    return bool(_active_stop) and _active_stop[-1]()


@contextmanager
def stop_mid_step(trainer: Any, should_stop: Callable[[], bool], callback: StorageCallback) -> Iterator[None]:
    """Around trainer.train(): a stop request (cancel, SIGTERM) ends the current step at the next forward pass
    (one generated token, one micro-batch). Nothing of that step reached the weights or the optimizer (they
    change only in optimizer.step), so the checkpoint grpo.train then saves is the last finished step's.
    Single process only, as on_substep_end."""
    handle = None
    if int(os.environ.get("WORLD_SIZE", "1")) == 1:

        def check(_module: Any, _args: Any) -> None:
            if should_stop():
                raise StopRequested("stop requested")

        handle = trainer.model.get_input_embeddings().register_forward_pre_hook(check)
        _active_stop.append(should_stop)
    try:
        yield
    except StopRequested:
        callback.stopped_by_request = True
        step = trainer.state.global_step
        print(f"[grpo] stopped in the middle of step {step + 1}; keeping step {step}", flush=True)
    finally:
        if handle is not None:
            handle.remove()
            _active_stop.remove(should_stop)
