"""The self-supervised soft-constraint reward model as a SoftScorer: P(adheres | response, constraint).

The input is only the response and the constraint (paper §3.2); `encode_pairs` is shared by training and scoring.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError

RM_INFO_FILE = "rm_info.json"
RM_FORMAT = "iflab-rm-v1"
PROMPT_HEAD = (
    "Determine whether the response adheres to this constraint. Answer 1 if it does and 0 if it does not.\n\nResponse: "
)
PROMPT_TAIL = "\n\nConstraint: {constraint}\n\nAdheres:"


@dataclass(frozen=True)
class RMTemplate:
    """The classifier's input shape; stored with each checkpoint so old RMs keep their own template."""

    head: str = PROMPT_HEAD
    tail: str = PROMPT_TAIL
    max_length: int = 384


def ensure_pad_token(tokenizer: Any, model: Any = None) -> None:
    """Sequence classification finds the last real token via pad_token_id, so both must agree."""
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model is not None:
        model.config.pad_token_id = tokenizer.pad_token_id


def encode_pairs(
    tokenizer: Any, pairs: Sequence[tuple[str, str]], template: RMTemplate = RMTemplate()
) -> list[list[int]]:
    """Token ids per (response, constraint); a long response is cut, the constraint always survives."""
    encoded = []
    for response, constraint in pairs:
        head = tokenizer(template.head + response, add_special_tokens=False)["input_ids"]
        tail = tokenizer(template.tail.format(constraint=constraint), add_special_tokens=False)["input_ids"]
        tail = tail[-(template.max_length // 2) :] if len(tail) > template.max_length // 2 else tail
        head = head[: max(1, template.max_length - len(tail))]
        encoded.append(head + tail)
    return encoded


def pad_batch(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[Any, Any]:
    """Right-pad to the longest row; returns (input_ids, attention_mask) tensors."""
    import torch

    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return input_ids, mask


class RewardModelScorer:
    """SoftScorer backed by a 2-class sequence classifier; `score` returns P(class 1) per pair."""

    def __init__(self, model: Any, tokenizer: Any, template: RMTemplate = RMTemplate(), batch_size: int = 16) -> None:
        ensure_pad_token(tokenizer, model)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = template
        self.batch_size = batch_size

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        if not pairs:
            return []
        encoded = encode_pairs(self.tokenizer, pairs, self.template)
        # Batch rows of similar length together so padding stays small.
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        probs = [0.0] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                input_ids, mask = pad_batch([encoded[i] for i in idx], self.tokenizer.pad_token_id)
                logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)).logits
                p = torch.softmax(logits.float(), dim=-1)[:, 1].tolist()
                for i, value in zip(idx, p, strict=True):
                    probs[i] = float(value)
        return probs


class BinaryScorer:
    """A SoftScorer's verdicts as 0/1 (P(adheres) >= 0.5): the binary soft reward of the paper's ablation."""

    def __init__(self, scorer: Any, threshold: float = 0.5) -> None:
        self.scorer = scorer
        self.threshold = threshold

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [1.0 if p >= self.threshold else 0.0 for p in self.scorer.score(pairs)]


def read_rm_info(path: str | Path) -> dict[str, Any]:
    """The rm_info.json of an RM checkpoint folder; LabError if the folder is not one."""
    folder = Path(path)
    info_path = folder / RM_INFO_FILE
    if not info_path.is_file():
        raise LabError(
            f"{str(folder)!r} is not a reward-model checkpoint (no {RM_INFO_FILE}); "
            "train one with the reward_model job",
            field="reward_model",
        )
    info = json.loads(info_path.read_text())
    if info.get("format") != RM_FORMAT:
        raise LabError(
            f"unsupported reward-model format {info.get('format')!r}; expected {RM_FORMAT}", field="reward_model"
        )
    return info


def load_rm_scorer(path: str | Path, device: str | None = None, batch_size: int = 16) -> RewardModelScorer:
    """Load an RM checkpoint folder (written by the reward_model job) as a SoftScorer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    info = read_rm_info(path)
    template = RMTemplate(**info.get("template", {}))
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=2, dtype=dtype).to(device)
    return RewardModelScorer(model, tokenizer, template, batch_size=batch_size)
