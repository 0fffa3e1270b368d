"""Greedy batched generation for evaluation: lab.generation's engines (the torch engine on CPU, else transformers)
everywhere, vLLM when it and CUDA exist.

Both return the responses and their generated token counts (exact, from the engine's ids).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lab.errors import LabError
from lab.generation.engine import StopCheck

BACKENDS = ("auto", "transformers", "torch", "ctranslate2", "vllm")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Generated:
    text: str
    tokens: int


class Generator(Protocol):
    name: str

    def generate(
        self, prompts: Sequence[str], max_new_tokens: int, seed: int, should_stop: StopCheck | None = None
    ) -> list[Generated]:
        """Greedy answers; lab.generation.GenerationStopped once `should_stop()` is true (where the engine can)."""
        ...

    def close(self) -> None: ...


def resolve_backend(backend: str) -> str:
    """'auto' -> vllm when vLLM and a CUDA device are present, else lab.generation's choice (the torch engine on
    CPU, transformers on a GPU or when LAB_GENERATION_ENGINE=transformers); refuses vLLM without CUDA, and runs a
    missing CTranslate2 as transformers (logged)."""
    from lab.generation import resolve_engine, vllm_available
    from lab.generation.engine import ctranslate2_available

    if backend not in BACKENDS:
        raise LabError(f"must be one of {', '.join(BACKENDS)}, got {backend!r}", field="backend")
    if backend == "auto":
        return "vllm" if vllm_available() else resolve_engine()
    if backend == "vllm" and not vllm_available():
        raise LabError("vLLM needs the vllm package and a CUDA GPU; use 'transformers' or 'auto'", field="backend")
    if backend == "ctranslate2" and not ctranslate2_available():
        log.warning("generation: ctranslate2 is not installed; evaluating with transformers")
        return "transformers"
    return backend


class LocalGenerator:
    """lab.generation on a model loaded by lab.models: `engine` is 'torch', 'ctranslate2' or 'transformers'."""

    def __init__(self, spec: str, batch_size: int, trust_remote_code: bool = False, engine: str = "transformers"):
        from lab.models import load_model

        self.loaded = load_model(spec, trust_remote_code=trust_remote_code)
        self.batch_size = batch_size
        self.name = engine

    def generate(
        self, prompts: Sequence[str], max_new_tokens: int, seed: int, should_stop: StopCheck | None = None
    ) -> list[Generated]:
        from lab.generation import Sampling, generate_texts

        sampling = Sampling(int(max_new_tokens), temperature=0.0, seed=int(seed))
        outputs = generate_texts(self.loaded, prompts, sampling, self.batch_size, self.name, should_stop)
        return [Generated(text, tokens) for text, tokens in outputs]

    def close(self) -> None:
        self.loaded = None  # lab.models keeps its own small LRU; nothing else to free


class VllmGenerator:
    """vLLM offline engine; a LoRA adapter folder is served on its base model through a LoRARequest."""

    name = "vllm"

    def __init__(self, spec: str, trust_remote_code: bool = False) -> None:
        from lab.model_access import check_remote_code

        check_remote_code(trust_remote_code)  # vLLM loads on its own, past lab.models.load_model's check
        from vllm import LLM

        from lab.models import ensure_bundled_checkpoint, resolve_model_spec

        source = resolve_model_spec(spec)
        base = source.base if source.kind == "adapter" and source.base else source
        if base.kind == "bundled":
            ensure_bundled_checkpoint()
        self.adapter = source.location if source.kind == "adapter" else None
        kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code, "gpu_memory_utilization": 0.85}
        if self.adapter:
            kwargs.update(enable_lora=True, max_lora_rank=256)
        self.llm = LLM(model=base.location, **kwargs)

    def generate(
        self, prompts: Sequence[str], max_new_tokens: int, seed: int, should_stop: StopCheck | None = None
    ) -> list[Generated]:
        """vLLM runs the whole call at once (fast on a GPU): a stop request is honoured only before it starts."""
        from vllm import SamplingParams

        from lab.generation.engine import check_stop

        check_stop(should_stop)
        params = SamplingParams(temperature=0.0, max_tokens=int(max_new_tokens), seed=int(seed))
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("eval-adapter", 1, self.adapter)
        messages = [[{"role": "user", "content": p}] for p in prompts]
        outputs = self.llm.chat(messages, params, lora_request=lora, use_tqdm=False)
        return [Generated(o.outputs[0].text, len(o.outputs[0].token_ids)) for o in outputs]

    def close(self) -> None:
        # Two engines in one process do not fit on most GPUs: drop this one before the next model loads.
        self.llm = None
        gc.collect()
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def make_generator(backend: str, spec: str, batch_size: int, trust_remote_code: bool = False) -> Generator:
    resolved = resolve_backend(backend)
    if resolved == "vllm":
        return VllmGenerator(spec, trust_remote_code)
    return LocalGenerator(spec, batch_size, trust_remote_code, engine=resolved)
