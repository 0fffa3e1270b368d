"""The reference engine: transformers `generate` in static, left-padded batches (the fall-back everywhere)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lab.generation.engine import Completion, Sampling, StopCheck, check_stop, end_token_ids

# On CPU, static batches beyond this were measured slower per token (a batch runs until its longest answer ends).
CPU_BATCH = 16


class TransformersEngine:
    name = "transformers"

    def __init__(self, loaded: Any) -> None:
        self.loaded = loaded
        self.end_ids = set(end_token_ids(loaded.model, loaded.tokenizer))

    def generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        sampling: Sampling,
        batch_size: int,
        should_stop: StopCheck | None = None,
    ) -> list[Completion]:
        import torch

        from lab.models import _generation_kwargs, _seed

        model, tokenizer = self.loaded.model, self.loaded.tokenizer
        kwargs = _generation_kwargs(self.loaded, sampling.max_new_tokens, sampling.temperature, sampling.top_p)
        config = kwargs["generation_config"]
        config.top_k = sampling.top_k or None
        if sampling.repetition_penalty != 1.0:
            config.repetition_penalty = sampling.repetition_penalty
        _seed(sampling.seed)
        size = max(1, int(batch_size))
        if model.device.type == "cpu":
            size = min(size, CPU_BATCH)
        completions: list[Completion] = []
        for start in range(0, len(prompt_ids), size):
            check_stop(should_stop)
            chunk = [list(ids) for ids in prompt_ids[start : start + size]]
            # Left padding, so every row ends where generation starts.
            batch = tokenizer.pad({"input_ids": chunk}, padding_side="left", return_tensors="pt").to(model.device)
            with torch.inference_mode():
                output = model.generate(**batch, **kwargs)
            completions.extend(self._completion(row) for row in output[:, batch["input_ids"].shape[1] :].tolist())
        return completions

    def _completion(self, row: list[int]) -> Completion:
        for i, token in enumerate(row):
            if token in self.end_ids:  # what follows the first end token is padding
                return Completion(tuple(row[:i]), token)
        return Completion(tuple(row))

    def stream(self, prompt_ids: Sequence[int], sampling: Sampling) -> Iterator[int]:
        raise NotImplementedError("lab.models.stream_generate streams plain transformers itself")
