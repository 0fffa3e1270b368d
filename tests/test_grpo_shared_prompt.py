"""The shared-prompt GRPO forward gives TRL's own log-probabilities, entropies and LoRA gradients."""

from __future__ import annotations

import contextlib
import functools
import logging
from types import SimpleNamespace

import pytest
import torch

from training.grpo_shared_prompt import prompt_groups, share_prompt_forward


def _policy(temperature: float = 0.7):  # noqa: ANN202
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.utils import add_fused_lm_head

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, attn_implementation="sdpa",
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    add_fused_lm_head(model, temperature=temperature, outputs=("log_probs", "entropy"))
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0))
    with torch.no_grad():  # LoRA's B starts at zero: make the adapter matter
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.2)
    model.train()
    return model


def _trainer():  # noqa: ANN202
    from trl import GRPOTrainer

    trainer = SimpleNamespace(accelerator=SimpleNamespace(autocast=contextlib.nullcontext, is_main_process=True))
    trainer._get_per_token_logps_and_entropies = functools.partial(
        GRPOTrainer._get_per_token_logps_and_entropies, trainer
    )
    return trainer


def _batch() -> tuple[torch.Tensor, torch.Tensor, int]:
    """Two prompts (one left-padded) x three completions of different lengths (right-padded): TRL's layout."""
    g = torch.Generator().manual_seed(1)
    prompts = [[0, 0, 5, 6, 7, 8, 9], [11, 12, 13, 14, 15, 16, 17]]
    prompt_masks = [[0, 0, 1, 1, 1, 1, 1], [1] * 7]
    ids, masks = [], []
    for prompt, prompt_mask in zip(prompts, prompt_masks, strict=True):
        for length in (5, 3, 1):
            completion = torch.randint(20, 96, (5,), generator=g).tolist()
            ids.append(prompt + completion)
            masks.append(prompt_mask + [1] * length + [0] * (5 - length))
    return torch.tensor(ids), torch.tensor(masks), 5


def _run(model, trainer, ids, mask, keep):  # noqa: ANN001, ANN202
    model.zero_grad()
    logps, entropy, _ = trainer._get_per_token_logps_and_entropies(model, ids, mask, keep, compute_entropy=True)
    completion_mask = mask[:, -keep:].float()
    ((logps * completion_mask).sum() + 0.1 * (entropy * completion_mask).sum()).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    return logps.detach(), entropy.detach(), grads


def test_rows_are_grouped_by_their_padded_prompt() -> None:
    ids, mask, keep = _batch()
    assert prompt_groups(ids, mask, keep) == [[0, 1, 2], [3, 4, 5]]
    other = mask.clone()
    other[1, 1] = 1  # same ids, another mask: another prompt
    assert prompt_groups(ids, other, keep) == [[0, 2], [1], [3, 4, 5]]


def test_shared_prompt_forward_matches_trl_logps_entropies_and_gradients() -> None:
    ids, mask, keep = _batch()
    model = _policy()
    plain = _run(model, _trainer(), ids, mask, keep)
    trainer = _trainer()
    share_prompt_forward(trainer)
    calls = []
    hook = model.get_base_model().model.embed_tokens.register_forward_hook(lambda m, i, o: calls.append(i[0].shape))
    shared = _run(model, trainer, ids, mask, keep)
    hook.remove()
    # Per group: the prompt minus its last token once, then 3 rows of 1 + 5 tokens.
    assert calls == [(1, 6), (3, 6), (1, 6), (3, 6)]
    scored = mask[:, -keep:].bool()
    torch.testing.assert_close(shared[0][scored], plain[0][scored], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(shared[1][scored], plain[1][scored], atol=1e-5, rtol=1e-5)
    assert plain[2].keys() == shared[2].keys() and len(plain[2]) > 0
    for name, grad in plain[2].items():
        assert grad.abs().sum() > 0, name
        torch.testing.assert_close(shared[2][name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_distinct_prompts_and_failures_take_trls_path(caplog: pytest.LogCaptureFixture) -> None:
    ids, mask, keep = _batch()
    model = _policy()
    rows = torch.tensor([0, 3])  # one row per prompt: nothing to share
    plain = _run(model, _trainer(), ids[rows], mask[rows], keep)
    trainer = _trainer()
    share_prompt_forward(trainer)
    torch.testing.assert_close(_run(model, trainer, ids[rows], mask[rows], keep)[0], plain[0])

    class Broken(torch.nn.Module):  # a model the shared path cannot drive (no cache): TRL's path, a log line
        def __init__(self, inner) -> None:  # noqa: ANN001
            super().__init__()
            self.inner = inner

        def forward(self, *args, cache=None, use_cache=None, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if use_cache:
                raise RuntimeError("no cache here")
            return self.inner(*args, **kwargs)

    reference = _run(model, _trainer(), ids, mask, keep)
    with caplog.at_level(logging.WARNING, logger="training.grpo_shared_prompt"):
        fell_back = _run(Broken(model), trainer, ids, mask, keep)
    assert "shared-prompt forward failed" in caplog.text
    torch.testing.assert_close(fell_back[0], reference[0])


def test_the_group_shuffle_keeps_prompts_together_and_the_random_stream_as_trls() -> None:
    from trl.trainer.utils import shuffle_sequence_dict

    from training.grpo_shared_prompt import group_shuffle

    prompts = torch.tensor([[1, 2], [3, 4], [5, 6]]).repeat_interleave(4, dim=0)  # 3 groups of 4, TRL's layout
    batch = {
        "prompt_ids": prompts, "prompt_mask": torch.ones_like(prompts), "row": torch.arange(12),
        "names": [f"r{i}" for i in range(12)], "num_items_in_batch": torch.tensor(40), "old_per_token_logps": None,
    }  # fmt: skip
    torch.manual_seed(3)
    theirs = shuffle_sequence_dict(batch)
    after_theirs = torch.rand(1)
    torch.manual_seed(3)
    ours = group_shuffle(batch)
    assert torch.rand(1) == after_theirs  # the same draws: later sampling is not shifted
    assert sorted(ours["row"].tolist()) == list(range(12)) and ours["names"] == [f"r{i}" for i in ours["row"]]
    assert torch.equal(ours["prompt_ids"], prompts[ours["row"]]) and ours["old_per_token_logps"] is None
    groups = [ours["prompt_ids"][i : i + 4] for i in range(0, 12, 4)]
    assert all(bool((g == g[0]).all()) for g in groups)  # every cut of 4 rows is one prompt
    first_drawn = []  # groups come in the order TRL's draw first reached them
    for row in theirs["row"].tolist():
        if row // 4 not in first_drawn:
            first_drawn.append(row // 4)
    assert [int(g[0][0]) // 2 for g in groups] == first_drawn


def test_several_processes_keep_trls_pass() -> None:
    trainer = _trainer()
    trainer.accelerator.num_processes = 2
    before = trainer._get_per_token_logps_and_entropies
    share_prompt_forward(trainer)
    assert trainer._get_per_token_logps_and_entropies is before
