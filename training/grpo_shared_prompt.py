"""GRPO's training forward with each prompt run once per group instead of once per completion.

TRL scores a micro-batch by running every row (prompt + completion) through the policy. In a GRPO group the rows share
one prompt (TRL pads it identically in each), so its forward and backward are done `group_size` times over. Here
rows with the same prompt are scored as: the prompt without its last token once (batch 1, keeping its keys and
values, gradients included), those keys and values repeated for each row, then the prompt's last token and the
completion of each row on top. Positions, masks and the LM head are the model's own, so the log-probabilities and
gradients are TRL's up to float rounding (`tests/test_grpo_shared_prompt.py`); the cpu-30min micro-batch (4
completions of <= 64 tokens on a ~86-token padded prompt) runs ~346 tokens instead of ~600.

For a micro-batch to hold whole groups, TRL's shuffle of the generation batch before it is cut into micro-batches
keeps each prompt's rows together (the same random draw orders the groups). Where one optimizer step covers the whole
generation batch (steps_per_generation = gradient accumulation steps, one iteration) and the loss is normalised
independently of how rows fall into micro-batches (every loss but bnpo), that changes nothing but rounding: the
accumulated gradient sums the same rows. Otherwise TRL's shuffle stays.

Used only where it is exact and tested: one process, no gradient checkpointing (it recomputes the forward without
the cache), no images or MoE auxiliary loss; anything else, or any failure (logged once), takes TRL's own path.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

log = logging.getLogger(__name__)

_KEEP_GROUPS: ContextVar[bool] = ContextVar("grpo_keep_groups", default=False)


def share_prompt_forward(trainer: Any) -> None:
    """Replace the trainer's `_get_per_token_logps_and_entropies` by the shared-prompt version (same signature).
    Single-process training only: under DDP the two forward passes per micro-batch are untested, so several
    processes keep TRL's pass."""
    if int(getattr(trainer.accelerator, "num_processes", 1)) > 1:
        log.info("grpo: %s processes: TRL's per-row training pass", trainer.accelerator.num_processes)
        return
    original = trainer._get_per_token_logps_and_entropies
    state = {"failed": False}

    def logps_and_entropies(
        model: Any,
        input_ids: Any,
        attention_mask: Any,
        logits_to_keep: int,
        batch_size: int | None = None,
        compute_entropy: bool = False,
        compute_aux_loss: bool = False,
        **extra: Any,
    ) -> tuple[Any, Any, Any]:
        def plain() -> tuple[Any, Any, Any]:
            return original(
                model, input_ids, attention_mask, logits_to_keep, batch_size, compute_entropy, compute_aux_loss,
                **extra,
            )  # fmt: skip

        if state["failed"] or compute_aux_loss or any(v is not None for v in extra.values()) or _checkpointing(model):
            return plain()
        groups = prompt_groups(input_ids, attention_mask, logits_to_keep)
        if all(len(rows) == 1 for rows in groups):
            return plain()
        try:
            with trainer.accelerator.autocast():
                return _grouped(model, input_ids, attention_mask, logits_to_keep, groups, compute_entropy)
        except Exception as error:  # the fast path must never stop training
            state["failed"] = True
            log.warning("grpo: the shared-prompt forward failed (%r); using TRL's own from now on", error)
            return plain()

    trainer._get_per_token_logps_and_entropies = logps_and_entropies
    if regrouping_is_exact(trainer):
        _keep_groups_in_micro_batches(trainer)


def regrouping_is_exact(trainer: Any) -> bool:
    """Whether cutting the generation batch into micro-batches by group leaves the update as it is (see above)."""
    args = getattr(trainer, "args", None)
    return args is not None and (
        getattr(trainer, "loss_type", args.loss_type) != "bnpo"
        and int(getattr(trainer, "num_iterations", 1)) == 1
        and int(args.steps_per_generation) == int(args.gradient_accumulation_steps)
    )


def group_shuffle(batch: dict[str, Any]) -> dict[str, Any]:
    """TRL's `shuffle_sequence_dict` (the same `torch.randperm` draw, so the random stream goes on as it would),
    except that rows with the same prompt stay together: groups in the order their first row was drawn."""
    import torch

    keys = _prompt_keys(batch["prompt_ids"], batch["prompt_mask"])
    drawn = torch.randperm(len(keys)).tolist()
    first: dict[tuple[bytes, bytes], int] = {}
    for position, row in enumerate(drawn):
        first.setdefault(keys[row], position)
    order = sorted(drawn, key=lambda row: first[keys[row]])  # stable: a group's rows keep their drawn order
    permutation = torch.tensor(order)

    def permute(value: Any) -> Any:
        if value is None or (isinstance(value, torch.Tensor) and value.ndim == 0):
            return value
        if isinstance(value, torch.Tensor):
            return value[permutation]
        return [value[i] for i in order]

    return {key: permute(value) for key, value in batch.items()}


def _keep_groups_in_micro_batches(trainer: Any) -> None:
    """This trainer's generation batches are shuffled by `group_shuffle` (other trainers keep TRL's shuffle)."""
    import trl.trainer.grpo_trainer as grpo_module

    if not getattr(grpo_module.shuffle_sequence_dict, "keeps_groups", False):
        original_shuffle = grpo_module.shuffle_sequence_dict

        def shuffle(batch: dict[str, Any]) -> dict[str, Any]:
            if _KEEP_GROUPS.get() and "prompt_ids" in batch and "prompt_mask" in batch:
                return group_shuffle(batch)
            return original_shuffle(batch)

        shuffle.keeps_groups = True  # type: ignore[attr-defined]
        grpo_module.shuffle_sequence_dict = shuffle
    prepare = trainer._prepare_inputs

    def prepare_keeping_groups(batch: Any) -> Any:
        token = _KEEP_GROUPS.set(True)
        try:
            return prepare(batch)
        finally:
            _KEEP_GROUPS.reset(token)

    trainer._prepare_inputs = prepare_keeping_groups


def prompt_groups(input_ids: Any, attention_mask: Any, logits_to_keep: int) -> list[list[int]]:
    """Row indices grouped by identical prompt (ids and mask before the last `logits_to_keep` positions), in order of
    first appearance."""
    prompt_length = input_ids.shape[1] - logits_to_keep
    groups: dict[tuple[bytes, bytes], list[int]] = {}
    for row, key in enumerate(_prompt_keys(input_ids[:, :prompt_length], attention_mask[:, :prompt_length])):
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _prompt_keys(prompt_ids: Any, prompt_mask: Any) -> list[tuple[bytes, bytes]]:
    """One hashable key per row: equal exactly when two rows have the same prompt ids and mask."""
    ids, mask = prompt_ids.cpu().numpy(), prompt_mask.cpu().numpy()
    return [(ids[row].tobytes(), mask[row].tobytes()) for row in range(len(ids))]


def _checkpointing(model: Any) -> bool:
    for name in ("is_activation_checkpointing", "is_gradient_checkpointing"):  # transformers 5 renamed it
        if hasattr(type(model), name) or hasattr(model, name):
            return bool(getattr(model, name))
    return False


def _grouped(
    model: Any, input_ids: Any, attention_mask: Any, logits_to_keep: int, groups: list[list[int]], compute_entropy: bool
) -> tuple[Any, Any, None]:
    import torch

    logps: list[Any] = [None] * input_ids.shape[0]
    entropies: list[Any] = [None] * input_ids.shape[0]
    prompt_length = input_ids.shape[1] - logits_to_keep
    if prompt_length < 2:
        raise ValueError("a prompt of fewer than 2 positions has nothing to share")
    for rows in groups:
        index = torch.tensor(rows, device=input_ids.device)
        ids, mask = input_ids[index], attention_mask[index]
        shared = model(
            input_ids=ids[:1, : prompt_length - 1],
            attention_mask=mask[:1, : prompt_length - 1],
            use_cache=True,
            logits_to_keep=1,
        )
        cache = shared.cache if getattr(shared, "cache", None) is not None else shared.past_key_values
        cache.batch_repeat_interleave(len(rows))
        tail = ids[:, prompt_length - 1 :]  # the prompt's last token, then the completion
        labels = tail.masked_fill(mask[:, prompt_length - 1 :] == 0, -100)
        labels[:, 0] = -100
        out = model(input_ids=tail, attention_mask=mask, cache=cache, labels=labels, fused_lm_head=True)
        for position, row in enumerate(rows):
            logps[row] = out.log_probs[position, -logits_to_keep:]
            if compute_entropy:
                entropies[row] = out.entropy[position, -logits_to_keep:]
    return torch.stack(logps), (torch.stack(entropies) if compute_entropy else None), None
