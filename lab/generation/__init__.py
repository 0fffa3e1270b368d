"""One generation module for every caller (evaluate, reward-model pairs, generate jobs, playground, arena, GRPO).

`engine.py` chooses the engine (on CPU `torch_engine.py`: the model's own weights with continuous batching;
CTranslate2 on request; plain transformers on a GPU or when forced with LAB_GENERATION_ENGINE=transformers) and
falls back to transformers when the fast engine cannot run the model or fails.
"""

from lab.generation.engine import (
    ENGINE_ENV,
    ENGINES,
    Completion,
    GenerationStopped,
    Sampling,
    engine_for,
    forget_engines,
    generate_completions,
    generate_texts,
    prompt_token_ids,
    resolve_engine,
    stream_texts,
    vllm_available,
)

__all__ = [
    "ENGINES",
    "ENGINE_ENV",
    "Completion",
    "GenerationStopped",
    "Sampling",
    "engine_for",
    "forget_engines",
    "generate_completions",
    "generate_texts",
    "prompt_token_ids",
    "resolve_engine",
    "stream_texts",
    "vllm_available",
]
